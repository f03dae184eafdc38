/*
 * test_smime.c — S/MIME certificates read and messages enveloped to them
 * (crypt/smime.h), checked against the openssl command line.
 *
 * The certificates below were made with openssl req (commands above each);
 * the expected issuer, serial, notAfter and address are what
 * `openssl x509 -noout -issuer -serial -enddate` and `openssl asn1parse`
 * print for them. Every envelope is opened by `openssl cms -decrypt` with
 * the matching key, and must give back the entity byte for byte. openssl
 * missing is a failure, not a skip: it is on every machine this runs on.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base64.h"
#include "core/buf.h"
#include "crypt/smime.h"
#include "unit.h"

/* openssl req -x509 -newkey rsa:2048 -subj '/C=DE/O=Tern Test/CN=Alice Example'
 * -addext subjectAltName=email:alice@example.org -set_serial 0x00c0ffee12345678 -days 3650 */
static const char RSA2048_PEM[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIDZTCCAk2gAwIBAgIIAMD/7hI0VngwDQYJKoZIhvcNAQELBQAwOTELMAkGA1UE\n"
    "BhMCREUxEjAQBgNVBAoMCVRlcm4gVGVzdDEWMBQGA1UEAwwNQWxpY2UgRXhhbXBs\n"
    "ZTAeFw0yNjExMjUwNDA1MDdaFw0zNjExMjIwNDA1MDdaMDkxCzAJBgNVBAYTAkRF\n"
    "MRIwEAYDVQQKDAlUZXJuIFRlc3QxFjAUBgNVBAMMDUFsaWNlIEV4YW1wbGUwggEi\n"
    "MA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQCpQNyX8oPPVpZigD44Zng0M6VV\n"
    "QRxsn6gUpUA3KGtw22J44D3vs6wMJlCpP8b1o5d0l6Im7zisRUUM6AWi1XSUkixK\n"
    "YUzv+lW4NggAlieWjD09PP9hRF7ievbvm8B6DP47SPohzaRmCzb5bH7vwsee7tXv\n"
    "STPGW1HhBSt3DvKfZskm3uztm0eroZJfzGQpsj81RZFcD6llxEfyz04Uu1LKGzYN\n"
    "naIjPeuJFS1Jv8VcqxhER9QekLtTY4vYoH1OcIGunrK3NKwEJ3csakSFnwUDCKK1\n"
    "7FxuYx6Tpxcak+4CnIti5xw7JUv0tJ8/y5cnqheEFj1XenEnoTE0eBy9pUrJAgMB\n"
    "AAGjcTBvMB0GA1UdDgQWBBQye0h1G1kRuGI7UF5vNLj9yhXgfTAfBgNVHSMEGDAW\n"
    "gBQye0h1G1kRuGI7UF5vNLj9yhXgfTAPBgNVHRMBAf8EBTADAQH/MBwGA1UdEQQV\n"
    "MBOBEWFsaWNlQGV4YW1wbGUub3JnMA0GCSqGSIb3DQEBCwUAA4IBAQBjn9g3w9pT\n"
    "Pu9mo/PH/k+JfHA7DBrFWP0x/GWmwVrst7X+HMXtvKsOd0tyeV/qkZvhrP56cX+a\n"
    "IKtp+y1M64uiUY1BZBHK7TlcnaHs2CzBg0HhrheghsRfzjsTyL23mNmSi398kUbK\n"
    "LxSikbb+UU5EwSwBoOcNzyW88wJwEBbzBhO8QcrIMEocIfuZsaXDEfAbQG8f9LdU\n"
    "UuLGl2UxviORqsAvVsseqg+d5J/tSoR5vZhgM6cC8fqKo6QaJBL6xMz9OeflfN9O\n"
    "jv/ISHHGLS3d+O8J6wWjgarwVULGlguy5+hsrl0t5ed/5t+3jpq9XrSvEvKO/seB\n"
    "FznhvFWrOsf3\n"
    "-----END CERTIFICATE-----\n";

/* openssl x509 -in rsa2048.pem -outform DER */
static const unsigned char RSA2048_DER[] = {
    0x30, 0x82, 0x03, 0x65, 0x30, 0x82, 0x02, 0x4d, 0xa0, 0x03, 0x02, 0x01, 0x02, 0x02, 0x08, 0x00,
    0xc0, 0xff, 0xee, 0x12, 0x34, 0x56, 0x78, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
    0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00, 0x30, 0x39, 0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04,
    0x06, 0x13, 0x02, 0x44, 0x45, 0x31, 0x12, 0x30, 0x10, 0x06, 0x03, 0x55, 0x04, 0x0a, 0x0c, 0x09,
    0x54, 0x65, 0x72, 0x6e, 0x20, 0x54, 0x65, 0x73, 0x74, 0x31, 0x16, 0x30, 0x14, 0x06, 0x03, 0x55,
    0x04, 0x03, 0x0c, 0x0d, 0x41, 0x6c, 0x69, 0x63, 0x65, 0x20, 0x45, 0x78, 0x61, 0x6d, 0x70, 0x6c,
    0x65, 0x30, 0x1e, 0x17, 0x0d, 0x32, 0x36, 0x31, 0x31, 0x32, 0x35, 0x30, 0x34, 0x30, 0x35, 0x30,
    0x37, 0x5a, 0x17, 0x0d, 0x33, 0x36, 0x31, 0x31, 0x32, 0x32, 0x30, 0x34, 0x30, 0x35, 0x30, 0x37,
    0x5a, 0x30, 0x39, 0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x06, 0x13, 0x02, 0x44, 0x45,
    0x31, 0x12, 0x30, 0x10, 0x06, 0x03, 0x55, 0x04, 0x0a, 0x0c, 0x09, 0x54, 0x65, 0x72, 0x6e, 0x20,
    0x54, 0x65, 0x73, 0x74, 0x31, 0x16, 0x30, 0x14, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x0d, 0x41,
    0x6c, 0x69, 0x63, 0x65, 0x20, 0x45, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x30, 0x82, 0x01, 0x22,
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00, 0x03,
    0x82, 0x01, 0x0f, 0x00, 0x30, 0x82, 0x01, 0x0a, 0x02, 0x82, 0x01, 0x01, 0x00, 0xa9, 0x40, 0xdc,
    0x97, 0xf2, 0x83, 0xcf, 0x56, 0x96, 0x62, 0x80, 0x3e, 0x38, 0x66, 0x78, 0x34, 0x33, 0xa5, 0x55,
    0x41, 0x1c, 0x6c, 0x9f, 0xa8, 0x14, 0xa5, 0x40, 0x37, 0x28, 0x6b, 0x70, 0xdb, 0x62, 0x78, 0xe0,
    0x3d, 0xef, 0xb3, 0xac, 0x0c, 0x26, 0x50, 0xa9, 0x3f, 0xc6, 0xf5, 0xa3, 0x97, 0x74, 0x97, 0xa2,
    0x26, 0xef, 0x38, 0xac, 0x45, 0x45, 0x0c, 0xe8, 0x05, 0xa2, 0xd5, 0x74, 0x94, 0x92, 0x2c, 0x4a,
    0x61, 0x4c, 0xef, 0xfa, 0x55, 0xb8, 0x36, 0x08, 0x00, 0x96, 0x27, 0x96, 0x8c, 0x3d, 0x3d, 0x3c,
    0xff, 0x61, 0x44, 0x5e, 0xe2, 0x7a, 0xf6, 0xef, 0x9b, 0xc0, 0x7a, 0x0c, 0xfe, 0x3b, 0x48, 0xfa,
    0x21, 0xcd, 0xa4, 0x66, 0x0b, 0x36, 0xf9, 0x6c, 0x7e, 0xef, 0xc2, 0xc7, 0x9e, 0xee, 0xd5, 0xef,
    0x49, 0x33, 0xc6, 0x5b, 0x51, 0xe1, 0x05, 0x2b, 0x77, 0x0e, 0xf2, 0x9f, 0x66, 0xc9, 0x26, 0xde,
    0xec, 0xed, 0x9b, 0x47, 0xab, 0xa1, 0x92, 0x5f, 0xcc, 0x64, 0x29, 0xb2, 0x3f, 0x35, 0x45, 0x91,
    0x5c, 0x0f, 0xa9, 0x65, 0xc4, 0x47, 0xf2, 0xcf, 0x4e, 0x14, 0xbb, 0x52, 0xca, 0x1b, 0x36, 0x0d,
    0x9d, 0xa2, 0x23, 0x3d, 0xeb, 0x89, 0x15, 0x2d, 0x49, 0xbf, 0xc5, 0x5c, 0xab, 0x18, 0x44, 0x47,
    0xd4, 0x1e, 0x90, 0xbb, 0x53, 0x63, 0x8b, 0xd8, 0xa0, 0x7d, 0x4e, 0x70, 0x81, 0xae, 0x9e, 0xb2,
    0xb7, 0x34, 0xac, 0x04, 0x27, 0x77, 0x2c, 0x6a, 0x44, 0x85, 0x9f, 0x05, 0x03, 0x08, 0xa2, 0xb5,
    0xec, 0x5c, 0x6e, 0x63, 0x1e, 0x93, 0xa7, 0x17, 0x1a, 0x93, 0xee, 0x02, 0x9c, 0x8b, 0x62, 0xe7,
    0x1c, 0x3b, 0x25, 0x4b, 0xf4, 0xb4, 0x9f, 0x3f, 0xcb, 0x97, 0x27, 0xaa, 0x17, 0x84, 0x16, 0x3d,
    0x57, 0x7a, 0x71, 0x27, 0xa1, 0x31, 0x34, 0x78, 0x1c, 0xbd, 0xa5, 0x4a, 0xc9, 0x02, 0x03, 0x01,
    0x00, 0x01, 0xa3, 0x71, 0x30, 0x6f, 0x30, 0x1d, 0x06, 0x03, 0x55, 0x1d, 0x0e, 0x04, 0x16, 0x04,
    0x14, 0x32, 0x7b, 0x48, 0x75, 0x1b, 0x59, 0x11, 0xb8, 0x62, 0x3b, 0x50, 0x5e, 0x6f, 0x34, 0xb8,
    0xfd, 0xca, 0x15, 0xe0, 0x7d, 0x30, 0x1f, 0x06, 0x03, 0x55, 0x1d, 0x23, 0x04, 0x18, 0x30, 0x16,
    0x80, 0x14, 0x32, 0x7b, 0x48, 0x75, 0x1b, 0x59, 0x11, 0xb8, 0x62, 0x3b, 0x50, 0x5e, 0x6f, 0x34,
    0xb8, 0xfd, 0xca, 0x15, 0xe0, 0x7d, 0x30, 0x0f, 0x06, 0x03, 0x55, 0x1d, 0x13, 0x01, 0x01, 0xff,
    0x04, 0x05, 0x30, 0x03, 0x01, 0x01, 0xff, 0x30, 0x1c, 0x06, 0x03, 0x55, 0x1d, 0x11, 0x04, 0x15,
    0x30, 0x13, 0x81, 0x11, 0x61, 0x6c, 0x69, 0x63, 0x65, 0x40, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c,
    0x65, 0x2e, 0x6f, 0x72, 0x67, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
    0x01, 0x0b, 0x05, 0x00, 0x03, 0x82, 0x01, 0x01, 0x00, 0x63, 0x9f, 0xd8, 0x37, 0xc3, 0xda, 0x53,
    0x3e, 0xef, 0x66, 0xa3, 0xf3, 0xc7, 0xfe, 0x4f, 0x89, 0x7c, 0x70, 0x3b, 0x0c, 0x1a, 0xc5, 0x58,
    0xfd, 0x31, 0xfc, 0x65, 0xa6, 0xc1, 0x5a, 0xec, 0xb7, 0xb5, 0xfe, 0x1c, 0xc5, 0xed, 0xbc, 0xab,
    0x0e, 0x77, 0x4b, 0x72, 0x79, 0x5f, 0xea, 0x91, 0x9b, 0xe1, 0xac, 0xfe, 0x7a, 0x71, 0x7f, 0x9a,
    0x20, 0xab, 0x69, 0xfb, 0x2d, 0x4c, 0xeb, 0x8b, 0xa2, 0x51, 0x8d, 0x41, 0x64, 0x11, 0xca, 0xed,
    0x39, 0x5c, 0x9d, 0xa1, 0xec, 0xd8, 0x2c, 0xc1, 0x83, 0x41, 0xe1, 0xae, 0x17, 0xa0, 0x86, 0xc4,
    0x5f, 0xce, 0x3b, 0x13, 0xc8, 0xbd, 0xb7, 0x98, 0xd9, 0x92, 0x8b, 0x7f, 0x7c, 0x91, 0x46, 0xca,
    0x2f, 0x14, 0xa2, 0x91, 0xb6, 0xfe, 0x51, 0x4e, 0x44, 0xc1, 0x2c, 0x01, 0xa0, 0xe7, 0x0d, 0xcf,
    0x25, 0xbc, 0xf3, 0x02, 0x70, 0x10, 0x16, 0xf3, 0x06, 0x13, 0xbc, 0x41, 0xca, 0xc8, 0x30, 0x4a,
    0x1c, 0x21, 0xfb, 0x99, 0xb1, 0xa5, 0xc3, 0x11, 0xf0, 0x1b, 0x40, 0x6f, 0x1f, 0xf4, 0xb7, 0x54,
    0x52, 0xe2, 0xc6, 0x97, 0x65, 0x31, 0xbe, 0x23, 0x91, 0xaa, 0xc0, 0x2f, 0x56, 0xcb, 0x1e, 0xaa,
    0x0f, 0x9d, 0xe4, 0x9f, 0xed, 0x4a, 0x84, 0x79, 0xbd, 0x98, 0x60, 0x33, 0xa7, 0x02, 0xf1, 0xfa,
    0x8a, 0xa3, 0xa4, 0x1a, 0x24, 0x12, 0xfa, 0xc4, 0xcc, 0xfd, 0x39, 0xe7, 0xe5, 0x7c, 0xdf, 0x4e,
    0x8e, 0xff, 0xc8, 0x48, 0x71, 0xc6, 0x2d, 0x2d, 0xdd, 0xf8, 0xef, 0x09, 0xeb, 0x05, 0xa3, 0x81,
    0xaa, 0xf0, 0x55, 0x42, 0xc6, 0x96, 0x0b, 0xb2, 0xe7, 0xe8, 0x6c, 0xae, 0x5d, 0x2d, 0xe5, 0xe7,
    0x7f, 0xe6, 0xdf, 0xb7, 0x8e, 0x9a, 0xbd, 0x5e, 0xb4, 0xaf, 0x12, 0xf2, 0x8e, 0xfe, 0xc7, 0x81,
    0x17, 0x39, 0xe1, 0xbc, 0x55, 0xab, 0x3a, 0xc7, 0xf7,
};

/* Its private key: test-only, for openssl cms -decrypt. */
static const char RSA2048_KEY[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCpQNyX8oPPVpZi\n"
    "gD44Zng0M6VVQRxsn6gUpUA3KGtw22J44D3vs6wMJlCpP8b1o5d0l6Im7zisRUUM\n"
    "6AWi1XSUkixKYUzv+lW4NggAlieWjD09PP9hRF7ievbvm8B6DP47SPohzaRmCzb5\n"
    "bH7vwsee7tXvSTPGW1HhBSt3DvKfZskm3uztm0eroZJfzGQpsj81RZFcD6llxEfy\n"
    "z04Uu1LKGzYNnaIjPeuJFS1Jv8VcqxhER9QekLtTY4vYoH1OcIGunrK3NKwEJ3cs\n"
    "akSFnwUDCKK17FxuYx6Tpxcak+4CnIti5xw7JUv0tJ8/y5cnqheEFj1XenEnoTE0\n"
    "eBy9pUrJAgMBAAECggEAEHq1P8IoHU7z84FDDaDEgWip52QgjV76MZBpcTVpSKLD\n"
    "srs6rJUU4lX0spX4HECiZYLCEgJmxTc1Yu1QZytbX3/f+hoBMLhyEi6Ilu4Hyru6\n"
    "1rSStPjAOFL6qhfDJN8Q/dq8KABqyli7MIvkzBlt8EaW4+Z/uQd5MGydb8kvzF9A\n"
    "DyAqMgvadyqDNW1WG6Pvm1L+O86tNiAR6DRSb8man92nKIvLYNirzZpLEegwdWU/\n"
    "LlDhHbpo+tDbYlAjPK7xmwwV4PMLbQ0Dpm5DfpgE8CqEt7a0kcrDJjyyuyY8GU67\n"
    "Ji1ie23L7/n3U5eCaZM1XE3dQSxz55C628c9nsh/kQKBgQDaqvh7as0sepKZrpPc\n"
    "VGfYClIcvJJlK2QGOo67E2shDjsFcrY0d5YCNYmOnYrJUqBFqKKrH0u7tbufAqup\n"
    "TOoVFTAqJgAqwu149x4U/kREUG7SmPIo+eih4+ElJgedebXSRu30K3k8AJBlVXfs\n"
    "8Ht37YaMZ9JKruSwVevF1K6GBQKBgQDGJjJgQFNmxnaA+rJ4oQOArE+gey9lA2bL\n"
    "ekyVkX/rYuFkeJqkunU3BqxewUJUW6gGvYDVxAhZolD6oUJQ8au5L+QLmETmB7fb\n"
    "zurHi7T1kTQTV+96U1OndB9KqistIMJG0EmHWgBrCHxbEkrCH4btmWaWNx7mUgk7\n"
    "9uWCHglo9QKBgQDZx8O4b1MuxFjzlIqQusO9x/Glyy1mc0OobHOw4BMnFdw0fd33\n"
    "/U46nwWEM2WBQrh7CAwSsBWmOsZFBMzgzcio/LQ+liA+dms6uauNLvvgqdbmCgvM\n"
    "QbGuYp3eeLTG4uvyJFBjiVSyLMGjGu9Y3N2rQLZrag9n8C21ba1nF35F3QKBgBWs\n"
    "3fvbbYQjl5j6U4WQj3KG5tr2PrP9EESX50LBPM4B7gfwjXIRl3ridv6Sg2/46sN5\n"
    "/Vrk68jqUZNpCnkSRqemTnraOEc1du5LjzEu3ieyr5CiIOcvsEn0EOw4+yofmEDo\n"
    "zfJJbRxIPFo2AQmFK1xYWHl8JBwrwyjVFDwMjxj1AoGAUeOR7+nYWuJTv4d1g4Jv\n"
    "93V1pRgyrGwcyx1aeRCTSqseYSOOGoe7882xayWHV4vTtDdXErkjARd3pS5b2nwF\n"
    "a9TbrGcXtPfv3A0wZ8KjTYSklCig4+gPC30lGJysnCpSCHxuRGi62Zjz4QonMouu\n"
    "nkvgI/e5J208JVrbHDaZHTc=\n"
    "-----END PRIVATE KEY-----\n";

/* openssl req -x509 -newkey rsa:3072 -subj '/CN=Bob Example/emailAddress=bob@example.net'
 * -days 9800 (notAfter in 2053: a GeneralizedTime) */
static const char RSA3072_PEM[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIETzCCAregAwIBAgIUDcZAILSVkkQtiwgS/u7WueFuaDkwDQYJKoZIhvcNAQEL\n"
    "BQAwNjEUMBIGA1UEAwwLQm9iIEV4YW1wbGUxHjAcBgkqhkiG9w0BCQEWD2JvYkBl\n"
    "eGFtcGxlLm5ldDAgFw0yNjExMjUwNDA1MTRaGA8yMDUzMDkyNDA0MDUxNFowNjEU\n"
    "MBIGA1UEAwwLQm9iIEV4YW1wbGUxHjAcBgkqhkiG9w0BCQEWD2JvYkBleGFtcGxl\n"
    "Lm5ldDCCAaIwDQYJKoZIhvcNAQEBBQADggGPADCCAYoCggGBANv+4wyEd5f5OZDt\n"
    "WJwwMLbpp9X0NYEjxh1rAncdbRrnhpRHgUCRV9hc7WLfTd6rUSUn+50n9KWpLOnL\n"
    "RJZ4Cl9mcHFLRpjiTBaKaDRZN5/tntzL2ZCZdIb5690WaLn2h+NOYPzErA6NNI9p\n"
    "/H34cEatSFXFCEfrGcm1uhyOlQSpMFrJzxGKj4d9GPRa2lC1t8eO44olP88zgaAe\n"
    "ubxNHUMjU3CeUXbdRgdBTVIa1rekZCRNJtL5Yl5C/hHG25ttsCx9cXaDCW4CoAEG\n"
    "9iCmlQYGMZ/d0zczlYjvRqhuqzVk2zcrxAIBYk2cZxn4PeFAjcNDeikumZ208df6\n"
    "ui5qajqtxuwQ8AHUfYQ70rkHS+8e1HXcSrkDs31jT/2ZIhfMwaN882kR10WSiyOn\n"
    "BfwEOIX7++aa4hHWnG8nh66nQOr6Q9pXNRAQEVHaxmkz0FzxfAHqAzF/0DaTO1oy\n"
    "Gro6ryj/d27RgsQ+SuqHesSmnXgTUfpBGxu7tMTjubyrfBNVyQIDAQABo1MwUTAd\n"
    "BgNVHQ4EFgQUHVrWufDQnRE9+nY183isCw1L03kwHwYDVR0jBBgwFoAUHVrWufDQ\n"
    "nRE9+nY183isCw1L03kwDwYDVR0TAQH/BAUwAwEB/zANBgkqhkiG9w0BAQsFAAOC\n"
    "AYEAoOSs/k7N3SB+B58l66YkAyrF6/uP+Ic09Km2et4crZqnHbo3S5eGh5zZnVUA\n"
    "4Sf/dGtWd4k9Wm253IYdjKez7YdpnrKuSw7ZoVHHq9lg5S5YqUageV+BHBs+R23b\n"
    "rpy1IUDqs35SXuA5ihuNn5m+HDYeNW/Z7P0Q5N7guNBxuTp91KUh0U3cf+zfKUPy\n"
    "5UQWZsp0rWZFN6XNW2x+liJUuY0/G4SlfzbkKRUNZqUAz7D2uDvBGu3A49pqqCH2\n"
    "89RQEqizSforCHtECyEG/Kf/vCsdhCGePa26eWSWtRFaIasD7pONXBPycF4YiIbA\n"
    "S2YtPWt+Buce06hsWJYtVwSZc5eBUH/oQSgx5HVbDCZOB48+67D22veOxlQB2weU\n"
    "LC5X4wkrF9oxeIK3MXpyHUZMWJEZ6qN+WO8dmBpUQURwCl7Y9/SaVddR7RcVwOKg\n"
    "HeQQWK7wOIspRj9Almnv3oQOapd4tKA0WMdhr2AuI8lOhs+BzkPiKEHw53WhPYzI\n"
    "a2+4\n"
    "-----END CERTIFICATE-----\n";

static const char RSA3072_KEY[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIG/QIBADANBgkqhkiG9w0BAQEFAASCBucwggbjAgEAAoIBgQDb/uMMhHeX+TmQ\n"
    "7VicMDC26afV9DWBI8YdawJ3HW0a54aUR4FAkVfYXO1i303eq1ElJ/udJ/SlqSzp\n"
    "y0SWeApfZnBxS0aY4kwWimg0WTef7Z7cy9mQmXSG+evdFmi59ofjTmD8xKwOjTSP\n"
    "afx9+HBGrUhVxQhH6xnJtbocjpUEqTBayc8Rio+HfRj0WtpQtbfHjuOKJT/PM4Gg\n"
    "Hrm8TR1DI1NwnlF23UYHQU1SGta3pGQkTSbS+WJeQv4RxtubbbAsfXF2gwluAqAB\n"
    "BvYgppUGBjGf3dM3M5WI70aobqs1ZNs3K8QCAWJNnGcZ+D3hQI3DQ3opLpmdtPHX\n"
    "+rouamo6rcbsEPAB1H2EO9K5B0vvHtR13Eq5A7N9Y0/9mSIXzMGjfPNpEddFkosj\n"
    "pwX8BDiF+/vmmuIR1pxvJ4eup0Dq+kPaVzUQEBFR2sZpM9Bc8XwB6gMxf9A2kzta\n"
    "Mhq6Oq8o/3du0YLEPkrqh3rEpp14E1H6QRsbu7TE47m8q3wTVckCAwEAAQKCAYAG\n"
    "hI+02uaG1yMbJcez9kLgjchOMMphBW6k3SXD4lhNgsHcT3NcjAcpPt+S8qtmRyHD\n"
    "/beZBApd2hxINPXW62mLQrK0I0HNMm8vVRxvPfFwSI77WwLFePZt2qZf9NOs0XQH\n"
    "NQGZ8OMUGfTjsYUsikQb+UhPr427lmiQ2anQ7McszdfD6NS8tU6OpL3Xh4A5Ae6W\n"
    "9/x1Jv4JT9etpxtjoSPrzaEhkLSN1qfGJpYkMkKy9X44tnHJsF/MtnlmjMNhiydY\n"
    "qiEX/7Tgnlo93+mH/lpmTzagQyBB7pE3+IbUmwc4isNDgXkOaZE0p3p4WwRNfhHp\n"
    "xnvNKClrfqr52r8P8l4Xh+7Lf4mnOFE7dgftdFJz0NLV2qMgU0vJycTQJQt/GFb/\n"
    "3JjumbjWPwsSClbR/41mJqVKcXZkjN2z6eLHrBBUgV/39y8Kp7lXQBfFFNH8ednv\n"
    "S53RYadiHx0LEPd7jtlJbnUqHSwhxYIm0a6bXpU7X7K70p9pOTDfxYJpnXeujbEC\n"
    "gcEA7p761yo4/PTvDx3bo60t0z4yJ2RBDmcLQwyFiu3AbxJaWRlpnprfGcxsOCAN\n"
    "Fqg0NxBVt5f5MHOZy3tJVNo+OAm4vFFzxVBKfqTfZa/tcvREOornnvBg0U6v4K5l\n"
    "j0PN2n2cFOMVTCIAR2OgF+2hyGUAc7Xncz+1tLfopqGpwrNAOpMQm9KiTruo23H+\n"
    "jJTaHffXwFjaWOJ3ZyT2jPw/FK1pyBQP73IbOWNL26LBeW8vcxnc55fZOEecSV+y\n"
    "pal9AoHBAOwEpHzfqh6eptnOdguaM+k38Xnp93P5WQYP6mjOVVGNo8VoSUN0oFrh\n"
    "XgIJ2n9OX/wKU3jYQO2SwyubI6w9UusJiJH5FPIHD++rKNW0HNoMPbHqo1wHyx+5\n"
    "OKAqdxOFjkgPzhh1U0W0wK+wfx3rVcel6RENvalHXXZTfZnR0Z8nLUlMpT6Q2TH1\n"
    "GReLtceX8+EEQvRoeYV23RBzmc03eG/EX2h27DlxcVoOriJjBDaYyDBlWvdeKhcV\n"
    "vX6QCywvPQKBwQCw66DSDVUpgDULQTkLNyil2hR3jmaJ1i7MbKlK45JtB++C5kug\n"
    "M/W8fAu05Vau+NGWDf9v2zcADIX4D5XEWvgMtnCI999daXWCRp34GCN2utMnkLvA\n"
    "5TrzlWLjtIpKWZx0JfOmrOOqif8o7x3Q//iWywQ1xqYvlgoUTtMpUO28FQlHJKkI\n"
    "z3hV5d+BrRhthSPfWlZWH8rsYiTjjc1bpN7kZtrqZK2X/ENhHlUtKJRIg/5rWb6m\n"
    "27hLeRTQdirPl0UCgcBulNZEs77PTeI7FqL0WLGNyepYBqksK13smzRnGpWa+lQL\n"
    "QAtjkZc4PXOAXQGEuEH8oxHtAtWY+jR7j9qs7qaU/QiB7ERGCc0LrBQb3KHQAABA\n"
    "BgG4MuaW3H+Ne5gDC4ZYeR9FEmOLu160cmt8pzCvtCp5FQkR8R/3OrMUiNxAR2jO\n"
    "eRzLLa6123KAN7NZ6vYXLZn5TaHySHjXJnKfVigVpdpV5bJUT7SeT1aDQgVNV1Qk\n"
    "aLiwQexSmJsKW48AirkCgcAiQGJTGElTTg1DQjBRiAkweqUq31SoabauvZepLitL\n"
    "/1y0+5HmYER65w9W8xZGD7Xn8V8zEQiTt2mw7qFPe2A6nOsoMaF3Pplaa2WAkDfU\n"
    "f1FBMliKTNrwUcrtkyqyNkGc6ioOD1nG7LZR1Z6D6O+EG6+g0PM6vnwOGeYEg67V\n"
    "JuxQYVyXY2p2br+hYlC2efoM7HjbezorYYXXjhxHSkrNXU+TVeJfoEW0f15RQIXk\n"
    "SQuZzelurZ+LqkA1JGggjo4=\n"
    "-----END PRIVATE KEY-----\n";

/* openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -subj '/CN=Carol EC'
 * -addext subjectAltName=email:carol@example.com */
static const char EC_PEM[] = "-----BEGIN CERTIFICATE-----\n"
                             "MIIBmTCCAT+gAwIBAgIUTmZhU/AIrZp18zV/pXVJk0cRhWMwCgYIKoZIzj0EAwIw\n"
                             "EzERMA8GA1UEAwwIQ2Fyb2wgRUMwHhcNMjYxMTI1MDQwNTA4WhcNMjcxMTI1MDQw\n"
                             "NTA4WjATMREwDwYDVQQDDAhDYXJvbCBFQzBZMBMGByqGSM49AgEGCCqGSM49AwEH\n"
                             "A0IABAgJmtYQjmNZXPybMILX2zLNrLrjkM9VqK+k+dzkT1GFta3piOjpvgxHpzml\n"
                             "8Ysv6nJT/CYvgZ44j/witZnsViWjcTBvMB0GA1UdDgQWBBRkySdUD/eVIixfnNbb\n"
                             "rwH9Nn0xhjAfBgNVHSMEGDAWgBRkySdUD/eVIixfnNbbrwH9Nn0xhjAPBgNVHRMB\n"
                             "Af8EBTADAQH/MBwGA1UdEQQVMBOBEWNhcm9sQGV4YW1wbGUuY29tMAoGCCqGSM49\n"
                             "BAMCA0gAMEUCIQDK5D9Pe1f6oFhA6Mac8kw2CAbzLmGj/w01JJaS9/3jAwIgaTcD\n"
                             "YYA0gpB8F8xT2w90ndrDGoPoTVDMju6h5D3ZySc=\n"
                             "-----END CERTIFICATE-----\n";

/* openssl req -x509 -newkey rsa:1024 -subj '/CN=Dave Weak' */
static const char RSA1024_PEM[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIICITCCAYqgAwIBAgIUA4SiD+Mr2i/mPumiSbVrciP3AU0wDQYJKoZIhvcNAQEL\n"
    "BQAwFDESMBAGA1UEAwwJRGF2ZSBXZWFrMB4XDTI2MTEyNTA0MDUwOFoXDTI3MTEy\n"
    "NTA0MDUwOFowFDESMBAGA1UEAwwJRGF2ZSBXZWFrMIGfMA0GCSqGSIb3DQEBAQUA\n"
    "A4GNADCBiQKBgQC0wUHPZ2VWgZeQOMfwrpofTZ9z8M3lcp8MSnUvkwWhKC1z+syx\n"
    "TcD51tQgWOXQ+SBWqHiqPo1ShGavuzwVc09xukQKT9d2f8X8rQAucdB7oH2IYNu6\n"
    "hfgBKCVddBb1ZK0S349rxBvaRLyF3ERFBEufHKaC5bsedjilCrJ7YjHDvwIDAQAB\n"
    "o3AwbjAdBgNVHQ4EFgQUAuBDWlvZRsVdVtfdpxrCtwqRe/IwHwYDVR0jBBgwFoAU\n"
    "AuBDWlvZRsVdVtfdpxrCtwqRe/IwDwYDVR0TAQH/BAUwAwEB/zAbBgNVHREEFDAS\n"
    "gRBkYXZlQGV4YW1wbGUuY29tMA0GCSqGSIb3DQEBCwUAA4GBAHZ8CyKz5jBWUjxP\n"
    "kumAVjofot0k5fiOfswmffD/WydmFZaFUn/66fRlIRSwc4UGr+7Gk++/JSliE0/v\n"
    "J8OdVgdH3QrbVxrPmAZRau6A7myOzQK7wchzBMnORaCrx4chMmOZhNrZxtZztXQG\n"
    "P7utTAHzq4HqDW0w15/bBQ4qs/hd\n"
    "-----END CERTIFICATE-----\n";

/* openssl req -x509 -newkey rsa:8192 -subj '/CN=Erin Huge' */
static const char RSA8192_PEM[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIJCTCCBPGgAwIBAgIUYpL+d9dT+eV1QCX+qHm+glgKA4QwDQYJKoZIhvcNAQEL\n"
    "BQAwFDESMBAGA1UEAwwJRXJpbiBIdWdlMB4XDTI2MTEyNTA0MDU1MFoXDTI3MTEy\n"
    "NTA0MDU1MFowFDESMBAGA1UEAwwJRXJpbiBIdWdlMIIEIjANBgkqhkiG9w0BAQEF\n"
    "AAOCBA8AMIIECgKCBAEA0oo+FpG/1ujkg/BbqOg1I1qSa35oVMPeO/Mudc2frSX+\n"
    "Wlv0L7WBd4C7RbXzoPGrnZC5vrKJ96xO4W1IptWWHlAKG8Vhe7462qzBq3xZC3rF\n"
    "TNuj9WQHHeHgzFOI9RdNDd3mkW6oiXdvrDHijttWmXRpqOH7TqoD6hXNUSTFex5I\n"
    "h9G+CmeIKnmJHC+4BInjRo9Js75CkzNiFgS887E/91RhIMpe1sPFnwtjGZLcwlNy\n"
    "lEXO5r977ylx1282ZCQ/5U+NfIvYLglv+pYBiRbRkZWrHvTdyy+oyNBO41Fvb35X\n"
    "E6aK2T0SWdjtzaJEdKsq+fgT20KVMc7WfuNpB3W5o0LZfKGsIRW335wXkuPnYeUh\n"
    "/+aWrU3sHDi7IWblCjQuSKaAADrz0fsFfRszyEc7gJf32XQ2gWePwBbHugHsXgDx\n"
    "ta34hGjjHz8tx4q4hWYdZesJwYM7nVUvKVe2xuQgin73uCQLkfoZLEQpAflFi8y2\n"
    "61BhNwOvYBjAIoPboItbh2/eJ3LCcOgOzNidHwgsuq5milYpPWrV76haDpDRhEib\n"
    "1775fXarc4cAKhZHjysCQ9JTIFR7CW/dgzhFF6T6xj33VWjmM4WeVJt9F/uXEhoR\n"
    "qZLEuBgFFNpvNP7Pk8lhAfiA4DMoQxSiLefTzM8AsGCcGabV26l2tno1vQfTobgY\n"
    "HvUV8vCthzJLCASZA2kU3DA8aKHt9TdKpK9FKDWgHUdgG940HI7BYxTLFblbZ1vF\n"
    "WkpCVHc4zM20CsZB3zfx6tYStzrbGY+ZJQC82748vEONMFkno8XNzmHk6O8FkO8S\n"
    "nrElXlEDNC9P7Gl9eD/i9QwOLDddCdjPVVIEDYwM8JpcYt9SNYojrZmcjqcWGXFI\n"
    "MQwzhp5zz8IZ8VVy7QtEFsLrAW2s1GiJyKD0Uv9UaYZ2V+RuVHs+58HddPtkNRXn\n"
    "GjisO2WfLP9jQrJkH2HEsjSdKXEErRIq2BJLHCafFDrBDyKP7kQe6Bd3DjxJFU0x\n"
    "xiO+NfxbV/PBDpbQxpTx3GTLZ/ljL0a0xnqdYD0KgF8yYhPgsXbE3pAhsAdRPxGJ\n"
    "uk9WQiQy/a7PSdp05jCTDYc7Aneg7moBGk3ADBcuXdggjU4hbNVsUOjzeOg7VSsq\n"
    "fXwlWIij7K9Y0zhW9V1q6acUG+mVRwnRCLbHGNMdHJZ5IchuGQBfDApGMZU93N43\n"
    "Z/kpCMla8Q6/VrK+mafopbN9gNoBJM361dJvp5BZFybRZv7Kb7OhSjOWmHBsEqdB\n"
    "OdC9ARkwqdx9+/LD6Gt+eYxiUv3ddKl6tmaa+u1JWEinGwn1uO6oUIiNA9pYcXn6\n"
    "ozIPiwr1UzR59/2oeECiBb9bTsDA3MaJPBAZ12hA4wIDAQABo1MwUTAdBgNVHQ4E\n"
    "FgQU9hP6yQPpwvZ1aWZsoJRIMeSViNowHwYDVR0jBBgwFoAU9hP6yQPpwvZ1aWZs\n"
    "oJRIMeSViNowDwYDVR0TAQH/BAUwAwEB/zANBgkqhkiG9w0BAQsFAAOCBAEAgrOE\n"
    "qyk+PFHdh2DcJnuTsxTaoGmy94QXAAeVpLZ22riSFJv+Qul4v3RbcziGBw996YzJ\n"
    "irxaFpwJtU+CGR0EVizoBoWwPc9sIEZtorXTR30Rn1xqMNUyUtseZqvmyhkRQ6Wp\n"
    "lnZeQavgsrk8WKoR1BqCO7eujUyNmtFR1AGvIGLRCfz/Vx7QdW+2b8+9ilgGJBtO\n"
    "WFFA/z3eIDzv6+GNRW96uvRQCv0zSkq7oD7pW0pfL4c19Mn+HBzRDa9w70XRNlPI\n"
    "ynHFSAcI1dm8PqEjSCgaAEyJ+hnhMg1GbFv1W/deDRo2uyMuHIPTuLUN4LZ9hxgt\n"
    "NV8tRhLFJf/JZxDYr7Vl7C7zKM1IhPNJGgJQOCWvaDe2pfjHbf2O5io2wKabhpze\n"
    "7mbYsBBn9uMaWIIqXFmMdRpjlY+aZ8BldOjY4pT/gL7zbxcDOnYDWIGKo1PE67nP\n"
    "UqPkaJ42LnsVLrrmacvNnK3v6p7SNAKGNJdMCwC9cyVJ5bnQktCAbL0HBMks1Hh0\n"
    "Z0U2Kj0svqoBw8kwx2rcbe3VHTIYBPCS7+NKMeaovT65oHSzoJKTaft6FOzcJyFh\n"
    "mkexpwtuD7y5+rMqFDR6++XV7f9QEI3b105+OfHcecf8S/ZrzAlJSIUEsijYjAGJ\n"
    "5DwmjYc/pM3ucetgiq1JXmmVQRCzGJ2WeyWmDE7EAy8MMsOuCNtNWbx+60ExBSd8\n"
    "g6kSpgCIV/Rp36WATxUjYY7hg0RjE0HM3/aDcHM+9/S30mPBShiO7UBVAtCd2FeP\n"
    "FwDdwQQM+4LUXga9nbJRTi6M/l696jaGl1ascKJ++cMHWXvis/6gkB1UJj/4VyPn\n"
    "msDVNShCPw4tC7xTji5sbYosMSGzh0HZxXEjtmyiQFbcTqTim5R4Bj+MxyFy1n3G\n"
    "3oRUSjQVkfqEhmrd9cf342dYcXSsoEfe4s3mcb7ajkKPPZiSF2ANss73lv4EMNlC\n"
    "tYXcseiwr0NjFUbHOoyUf3eJfoVHIdLNTYSLTNJRGTLN9Xwd1GeN5uXdYQJZsav6\n"
    "+jburQJOD15gwwD38mDJIeei5LUMUE+YaVyI/2PoIGFPwLOXvCQI0oBpH1JOEwl7\n"
    "16Nlk4D4B7xq40z7NR9QNgYMNth15LQehQSY2/7vQacNyvgMAxXjsnZH6/+4Kmh9\n"
    "AZKGp+81QAsl8DHifBwn7Je+EdkKoCrKbLi+2xMFDG5pyq1wI9UOwuTA/uoY0moq\n"
    "5/U8mRjr7orB3LiwR2Dhc0xBkJAxJHb9hKUjW9+gRhBQybLsh91Tt5l06Ni1Ojo4\n"
    "JT+Aiguee2qBfvb4e3XerXRTOJWgt+o6V0ctQ2z5JsUriNu0RPWoz1jLEMu1k5/G\n"
    "PfBj1xqgF3qgnwrbSw==\n"
    "-----END CERTIFICATE-----\n";

/* Expected values (openssl x509 -noout -issuer -serial -enddate; asn1parse for the DER). */
#define RSA2048_ISSUER_DER                                                                         \
	"3039310b300906035504061302444531123010060355040a0c095465726e2054657374311630140603550403" \
	"0c"                                                                                       \
	"0d416c696365204578616d706c65"
/* issuer=C = DE, O = Tern Test, CN = Alice Example, as cms -print writes it */
#define RSA2048_ISSUER_TEXT "C=DE, O=Tern Test, CN=Alice Example"
#define RSA2048_SERIAL_DER "020800c0ffee12345678"  /* serial=C0FFEE12345678 */
#define RSA2048_SERIAL_DECIMAL "54324593501165176" /* 0xC0FFEE12345678, as cms -print writes it */
#define RSA2048_NOT_AFTER 2110939507               /* notAfter=Nov 22 04:05:07 2036 GMT */
#define RSA2048_MODULUS_PREFIX "a940dc97f283cf569662803e38667834" /* openssl x509 -modulus */
#define RSA3072_ISSUER_DER                                                                         \
	"30363114301206035504030c0b426f62204578616d706c65311e301c06092a864886f70d010901160f626f62" \
	"40"                                                                                       \
	"6578616d706c652e6e6574"
#define RSA3072_SERIAL_DER "02140dc64020b49592442d8b0812feeed6b9e16e6839"
#define RSA3072_NOT_AFTER 2642299514 /* notAfter=Sep 24 04:05:14 2053 GMT */

static char tmpdir[64];

static const char *hex(const unsigned char *p, size_t n)
{
	static char out[2 * 4096 + 1];
	size_t i;

	for (i = 0; i < n && 2 * i + 2 < sizeof out; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
	out[2 * i] = '\0';
	return out;
}

/* smime_cert_parse on an exact-size heap copy, so ASan sees any read past the end. */
static int parse_copy(const void *data, size_t len, struct smime_cert *c, char *err, size_t errsz)
{
	char *copy = malloc(len > 0 ? len : 1);
	int rc;

	memcpy(copy, data, len);
	rc = smime_cert_parse(copy, len, c, err, errsz);
	free(copy);
	return rc;
}

static void check_rsa2048(const struct smime_cert *c)
{
	CHECK(c->n != NULL);
	if (c->n == NULL)
		return;
	CHECK_EQ_INT(c->bits, 2048);
	CHECK_EQ_INT(c->nlen, 256);
	CHECK_EQ_STR(hex(c->n, 16), RSA2048_MODULUS_PREFIX);
	CHECK_EQ_STR(hex(c->e, c->elen), "010001");
	CHECK_EQ_STR(hex(c->issuer, c->issuer_len), RSA2048_ISSUER_DER);
	CHECK_EQ_STR(hex(c->serial, c->serial_len), RSA2048_SERIAL_DER);
	CHECK_EQ_INT(c->not_after, RSA2048_NOT_AFTER);
	CHECK_EQ_STR(c->email, "alice@example.org");
}

/* PEM, DER, CRLF, text around the block, other blocks first or after. */
static void test_parse(void)
{
	struct smime_cert c;
	char err[256], text[8192];
	size_t i, n;
	int rc;

	CHECK_EQ_INT(parse_copy(RSA2048_PEM, strlen(RSA2048_PEM), &c, err, sizeof err), 0);
	check_rsa2048(&c);
	smime_cert_free(&c);
	smime_cert_free(&c); /* emptied: harmless twice */

	CHECK_EQ_INT(parse_copy(RSA2048_DER, sizeof RSA2048_DER, &c, err, sizeof err), 0);
	check_rsa2048(&c);
	smime_cert_free(&c);

	/* CRLF line ends, a subject line before, no final line end. */
	n = (size_t)snprintf(text, sizeof text, "Subject: my cert\r\n\r\n");
	for (i = 0; RSA2048_PEM[i] != '\0'; i++) {
		if (RSA2048_PEM[i] == '\n')
			text[n++] = '\r';
		text[n++] = RSA2048_PEM[i];
	}
	n -= 2;
	CHECK_EQ_INT(parse_copy(text, n, &c, err, sizeof err), 0);

	check_rsa2048(&c);
	smime_cert_free(&c);

	/* A key block first, then two certificates: the first certificate counts. */
	n = (size_t)snprintf(text, sizeof text, "%s%s%s", RSA2048_KEY, RSA2048_PEM, RSA3072_PEM);
	CHECK_EQ_INT(parse_copy(text, n, &c, err, sizeof err), 0);
	check_rsa2048(&c);
	smime_cert_free(&c);
	/* ... and a broken block after the first certificate is not looked at. */
	n = (size_t)snprintf(text, sizeof text, "%s-----BEGIN CERTIFICATE-----\n!!!\n",
	                     RSA2048_PEM);
	CHECK_EQ_INT(parse_copy(text, n, &c, err, sizeof err), 0);
	smime_cert_free(&c);

	/* emailAddress in the subject; notAfter a GeneralizedTime. */
	rc = parse_copy(RSA3072_PEM, strlen(RSA3072_PEM), &c, err, sizeof err);
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(c.bits, 3072);
	CHECK_EQ_STR(hex(c.e, c.elen), "010001");
	CHECK_EQ_STR(hex(c.issuer, c.issuer_len), RSA3072_ISSUER_DER);
	CHECK_EQ_STR(hex(c.serial, c.serial_len), RSA3072_SERIAL_DER);
	CHECK_EQ_INT(c.not_after, RSA3072_NOT_AFTER);
	CHECK_EQ_STR(c.email, "bob@example.net");
	smime_cert_free(&c);
}

static void check_refused(const void *data, size_t len, const char *want)
{
	struct smime_cert c;
	char err[256] = "";

	memset(&c, 0x5A, sizeof c);
	CHECK_EQ_INT(parse_copy(data, len, &c, err, sizeof err), -1);
	if (strstr(err, want) == NULL) {
		CHECK(!"error message");
		fprintf(stderr, "  got \"%s\", wanted \"%s\"\n", err, want);
	}
	CHECK(c.data == NULL && c.n == NULL);
	smime_cert_free(&c);
}

static void test_refused(void)
{
	unsigned char der[sizeof RSA2048_DER + 1];
	struct smime_cert c;

	check_refused(
	    EC_PEM, strlen(EC_PEM),
	    "the certificate's key is not RSA (it is an EC key): only RSA certificates can "
	    "be used for S/MIME encryption here");
	check_refused(RSA1024_PEM, strlen(RSA1024_PEM),
	              "the certificate's RSA key is shorter than 2048 bits (it has 1024)");
	check_refused(RSA8192_PEM, strlen(RSA8192_PEM),
	              "the certificate's RSA key is longer than 4096 bits (it has 8192)");
	check_refused("", 0, "not a certificate: neither PEM nor DER");
	check_refused("hello", 5, "not a certificate: neither PEM nor DER");
	check_refused(RSA2048_KEY, strlen(RSA2048_KEY), "no CERTIFICATE block");
	check_refused("-----BEGIN CERTIFICATE-----\nMIIB\n", 33, "truncated PEM block");
	/* DER: something after the certificate; a private key's DER. */
	memcpy(der, RSA2048_DER, sizeof RSA2048_DER);
	der[sizeof RSA2048_DER] = 0;
	check_refused(der, sizeof der, "not a certificate");
	check_refused("\x30\x03\x02\x01\x00", 5, "not a certificate");
	/* No err buffer at all. */
	CHECK_EQ_INT(smime_cert_parse("x", 1, &c, NULL, 0), -1);
}

/* Every prefix of the PEM and of the DER: refused (or, for the PEM cut inside
 * its END line, read whole), never a crash. */
static void test_truncated(void)
{
	size_t pem_len = strlen(RSA2048_PEM),
	       end = (size_t)(strstr(RSA2048_PEM, "-----END") - RSA2048_PEM);
	struct smime_cert c;
	char err[256];
	size_t n;
	int refused_all = 1, good_after = 1;

	for (n = 0; n < sizeof RSA2048_DER; n++) {
		if (parse_copy(RSA2048_DER, n, &c, err, sizeof err) == 0)
			refused_all = 0;
		smime_cert_free(&c);
	}
	CHECK(refused_all);
	for (n = 0; n <= pem_len; n++) {
		err[0] = '\0';
		if (parse_copy(RSA2048_PEM, n, &c, err, sizeof err) == 0) {
			if (n < end || c.bits != 2048 || strcmp(c.email, "alice@example.org") != 0)
				good_after = 0;
		} else if (err[0] == '\0') {
			good_after = 0; /* refused without saying why */
		}
		smime_cert_free(&c);
	}
	CHECK(good_after);
}

/* A small deterministic generator (xorshift) for the corruptions. */
static uint32_t rnd_state = 2463534242u;
static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

/* Whatever one changed octet does, a certificate read is a sane one. */
static int sane(const struct smime_cert *c)
{
	size_t i;

	if (c->bits < 2048 || c->bits > 4096 || c->nlen != (c->bits + 7) / 8 || c->elen == 0 ||
	    c->issuer_len < 2 || c->issuer[0] != 0x30 || c->serial_len < 3 || c->serial[0] != 0x02)
		return 0;
	for (i = 0; c->email[i] != '\0'; i++)
		if (c->email[i] <= ' ' || c->email[i] >= 0x7F)
			return 0;
	return 1;
}

static void test_corrupted(void)
{
	static const unsigned char flips[] = {0x01, 0x80, 0xFF, 0x7F, 0x20};
	unsigned char der[sizeof RSA2048_DER];
	char pem[sizeof RSA2048_PEM], err[256];
	struct smime_cert c;
	size_t i, f, accepted = 0, bad = 0, k;

	for (i = 0; i < sizeof der; i++) {
		for (f = 0; f < sizeof flips + 1; f++) {
			memcpy(der, RSA2048_DER, sizeof der);
			der[i] = f < sizeof flips ? der[i] ^ flips[f] : (unsigned char)rnd();
			if (parse_copy(der, sizeof der, &c, err, sizeof err) == 0) {
				accepted++;
				bad += !sane(&c);
			} else if (err[0] == '\0') {
				bad++;
			}
			smime_cert_free(&c);
		}
	}
	for (k = 0; k < 4000; k++) {
		memcpy(pem, RSA2048_PEM, sizeof pem);
		pem[rnd() % (sizeof pem - 1)] = (char)rnd();
		if (parse_copy(pem, sizeof pem - 1, &c, err, sizeof err) == 0)
			bad += !sane(&c);
		smime_cert_free(&c);
	}
	CHECK_EQ_INT(bad, 0);
	/* Most single changes land in the signature or names and still read. */
	CHECK(accepted > 0 && accepted < sizeof der * (sizeof flips + 1));
}

/* ---- envelopes opened by openssl */

static int run(const char *cmd)
{
	int rc = system(cmd);

	if (rc != 0)
		fprintf(stderr, "  command failed (%d): %s\n", rc, cmd);
	return rc;
}

static void path(char *out, size_t outsz, const char *name)
{
	snprintf(out, outsz, "%s/%s", tmpdir, name);
}

/*
 * Envelops entity to the certificate, has openssl decrypt it with the key,
 * and compares; checks what cms -cmsout -print says about it when print
 * is set.
 */
static void round_trip(const char *cert_pem, const char *key_pem, int aes_bits, const void *entity,
                       size_t len, int print)
{
	char cert_path[128], key_path[128], in_path[128], out_path[128], cmd[1024];
	struct smime_cert c;
	struct buf der;
	char err[256], *back;
	size_t back_len = 0;

	path(cert_path, sizeof cert_path, "cert.pem");
	path(key_path, sizeof key_path, "key.pem");
	path(in_path, sizeof in_path, "msg.p7m");
	path(out_path, sizeof out_path, "msg.out");
	CHECK_EQ_INT(smime_cert_parse(cert_pem, strlen(cert_pem), &c, err, sizeof err), 0);
	buf_init(&der, (size_t)64 << 20);
	CHECK_EQ_INT(smime_envelop(&der, &c, aes_bits, entity, len), 0);
	CHECK(buf_len(&der) > len + 16);
	CHECK(unit_write_file(cert_path, cert_pem, strlen(cert_pem)) == 0 &&
	      unit_write_file(key_path, key_pem, strlen(key_pem)) == 0 &&
	      unit_write_file(in_path, buf_data(&der), buf_len(&der)) == 0);
	unlink(out_path);
	snprintf(cmd, sizeof cmd,
	         "openssl cms -decrypt -inform DER -in %s -recip %s -inkey %s -out %s", in_path,
	         cert_path, key_path, out_path);
	CHECK_EQ_INT(run(cmd), 0);
	back = unit_read_file(out_path, &back_len);
	CHECK(back != NULL);
	CHECK_EQ_INT(back_len, len);
	if (back != NULL && back_len == len && len > 0 && memcmp(back, entity, len) != 0)
		CHECK(!"decrypted entity differs");
	free(back);
	fprintf(stderr, "  aes-%d, %zu octets: %zu octets of DER, opened by openssl\n", aes_bits,
	        len, buf_len(&der));

	if (print) {
		char *text;
		size_t text_len;

		snprintf(cmd, sizeof cmd, "openssl cms -cmsout -print -inform DER -in %s > %s",
		         in_path, out_path);
		CHECK_EQ_INT(run(cmd), 0);
		text = unit_read_file(out_path, &text_len);
		CHECK(text != NULL);
		if (text != NULL) {
			CHECK(strstr(text, "contentType: pkcs7-envelopedData") != NULL);
			CHECK(strstr(text, "d.envelopedData: \n    version: 0\n") != NULL);
			CHECK(strstr(text, "issuer: " RSA2048_ISSUER_TEXT) != NULL);
			CHECK(strstr(text, "serialNumber: " RSA2048_SERIAL_DECIMAL "\n") != NULL);
			CHECK(strstr(text, "d.ktri: \n        version: 0\n") != NULL);
			CHECK(strstr(text, "algorithm: rsaEncryption") != NULL);
			CHECK(strstr(text, aes_bits == 128 ? "algorithm: aes-128-cbc"
			                                   : "algorithm: aes-256-cbc") != NULL);
			CHECK(strstr(text, "contentType: pkcs7-data") != NULL);
		}
		free(text);
	}
	buf_free(&der);
	smime_cert_free(&c);
}

/* The part as the delivering code will store it, read by openssl cms as S/MIME. */
static void test_mime_part(void)
{
	static const char entity[] = "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
	                             "Meet me at noon.\r\n";
	char cert_path[128], key_path[128], in_path[128], out_path[128], cmd[1024], *b64, *back;
	struct smime_cert c;
	struct buf der, mail;
	size_t i, n, back_len = 0;
	char err[256];

	path(cert_path, sizeof cert_path, "cert.pem");
	path(key_path, sizeof key_path, "key.pem");
	path(in_path, sizeof in_path, "msg.eml");
	path(out_path, sizeof out_path, "msg.out");
	CHECK_EQ_INT(smime_cert_parse(RSA2048_PEM, strlen(RSA2048_PEM), &c, err, sizeof err), 0);
	buf_init(&der, 1 << 20);
	buf_init(&mail, 1 << 20);
	CHECK_EQ_INT(smime_envelop(&der, &c, 128, entity, sizeof entity - 1), 0);
	b64 = malloc(buf_len(&der) * 2 + 4);
	CHECK_EQ_INT(base64_encode(buf_data(&der), buf_len(&der), 0, b64, buf_len(&der) * 2 + 4),
	             0);
	buf_append_c(&mail, "From: a@example.org\r\nTo: alice@example.org\r\nSubject: x\r\n"
	                    "MIME-Version: 1.0\r\n"
	                    "Content-Type: application/pkcs7-mime; smime-type=enveloped-data;\r\n"
	                    " name=smime.p7m\r\n"
	                    "Content-Transfer-Encoding: base64\r\n"
	                    "Content-Disposition: attachment; filename=smime.p7m\r\n\r\n");
	n = strlen(b64);
	for (i = 0; i < n; i += 76) {
		buf_append(&mail, b64 + i, n - i < 76 ? n - i : 76);
		buf_append_c(&mail, "\r\n");
	}
	CHECK(unit_write_file(cert_path, RSA2048_PEM, strlen(RSA2048_PEM)) == 0 &&
	      unit_write_file(key_path, RSA2048_KEY, strlen(RSA2048_KEY)) == 0 &&
	      unit_write_file(in_path, buf_data(&mail), buf_len(&mail)) == 0);
	snprintf(cmd, sizeof cmd, "openssl cms -decrypt -in %s -recip %s -inkey %s -out %s",
	         in_path, cert_path, key_path, out_path);
	CHECK_EQ_INT(run(cmd), 0);
	back = unit_read_file(out_path, &back_len);
	CHECK(back != NULL && back_len == sizeof entity - 1 && memcmp(back, entity, back_len) == 0);
	free(back);
	free(b64);
	buf_free(&mail);
	buf_free(&der);
	smime_cert_free(&c);
}

static void test_envelop(void)
{
	static const size_t sizes[] = {0, 1, 15, 16, 17, 3 << 20};
	size_t big = (size_t)17 << 20, i, s;
	unsigned char *entity = malloc(big);
	int a;

	/* A MIME entity up front, then bytes of every value (NULs, bare CR, 8-bit). */
	for (i = 0; i < big; i++)
		entity[i] = (unsigned char)(rnd() >> 11);
	memcpy(entity, "Content-Type: text/plain\r\n\r\nHi", 31);
	for (a = 128; a <= 256; a += 128)
		for (s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
			round_trip(RSA2048_PEM, RSA2048_KEY, a, entity, sizes[s], s == 3);
	/* Another key size; and over 16 MiB, where the DER lengths take 4 octets. */
	round_trip(RSA3072_PEM, RSA3072_KEY, 256, entity, 1000, 0);
	round_trip(RSA2048_PEM, RSA2048_KEY, 256, entity, big, 0);
	free(entity);
}

/* Refusals leave out as it was. */
static void test_envelop_refused(void)
{
	struct smime_cert c, empty;
	struct buf out, again;
	char err[256];

	memset(&empty, 0, sizeof empty);
	CHECK_EQ_INT(smime_cert_parse(RSA2048_PEM, strlen(RSA2048_PEM), &c, err, sizeof err), 0);
	buf_init(&out, 400);
	buf_append_c(&out, "kept");
	CHECK_EQ_INT(smime_envelop(&out, &c, 192, "x", 1), -1);
	CHECK_EQ_INT(smime_envelop(&out, &empty, 128, "x", 1), -1);
	CHECK_EQ_INT(smime_envelop(&out, &c, 128, "x", 1), -1); /* 400 octets is too few */
	CHECK_EQ_INT(buf_len(&out), 4);
	CHECK(memcmp(buf_data(&out), "kept", 4) == 0);
	buf_free(&out);
	buf_init(&out, 1000);
	buf_init(&again, 1000);
	CHECK_EQ_INT(smime_envelop(&out, &c, 128, "x", 1), 0);
	CHECK_EQ_INT(smime_envelop(&again, &c, 128, "x", 1), 0);
	/* A fresh key and IV each time: same length, other octets. */
	CHECK(buf_len(&out) == buf_len(&again) &&
	      memcmp(buf_data(&out), buf_data(&again), buf_len(&out)) != 0);
	buf_free(&out);
	buf_free(&again);
	smime_cert_free(&c);
}

int main(void)
{
	test_parse();
	test_refused();
	test_truncated();
	test_corrupted();
	test_envelop_refused();

	/* openssl must be there: a missing one fails the test. */
	CHECK_EQ_INT(run("openssl version >/dev/null"), 0);
	snprintf(tmpdir, sizeof tmpdir, "/tmp/test_smime.XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_envelop();
	test_mime_part();
	{
		char cmd[128];
		snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
		run(cmd);
	}
	return unit_done("test_smime");
}
