"""A first start as a newcomer reads it (issue 31): the log prints the
admin URL (event=admin_url, with the port when it is not 443), and the
wizard's text names the setup-code line as the log writes it
(`event=setup_code code=`; it said `setup code=`). One server."""
import re

from harness import Server
from httpc import Api


def test_admin_url_and_setup_code_wording():
    s = Server(http=True)
    with s:
        assert s.wait_log("event=admin_url url=https://mx.example.test:%d/ " % s.https_port), \
            s.log_text()
        m = re.search(r"(event=setup_code code=)[A-Z0-9-]+", s.log_text())
        assert m, s.log_text()
        st, _, index = Api(s).raw("GET", "/")
        assert st == 200
        js = re.search(rb'src="(/assets/[^"]+\.js)"', index).group(1).decode()
        st, _, bundle = Api(s).raw("GET", js)
        assert st == 200 and m.group(1).encode() in bundle, "wizard does not name " + m.group(1)
