keep
if anyof (true; }) { frop; stop 1 }
}
@ $$ ;
if true { if true { foreverypart; keep {} } else { redirect; }
"x" ];
