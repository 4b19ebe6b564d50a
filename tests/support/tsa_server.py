#!/usr/bin/env python3
"""A local RFC 3161 time-stamping authority for the tests: `openssl ts -reply` behind HTTP.

    tsa_server.py DIR [--no-eku] [--rsa]

makes a test CA and a TSA certificate in DIR (ca.crt, tsa.crt, their keys, tsa.cnf), then
serves RFC 3161 over HTTP (POST application/timestamp-query) on 127.0.0.1 at a free port,
printed as the first line of stdout. --no-eku makes a TSA certificate without the critical
extendedKeyUsage timeStamping (a TSA no verifier may trust); --rsa uses RSA keys instead of
ECDSA P-256. It serves until killed, answers only on the loopback address, and never sends
anything anywhere.
"""
import http.server
import os
import subprocess
import sys
import tempfile


def run(*args, cwd):
    subprocess.run(args, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_keys(directory, rsa, eku):
    def key(name):
        if rsa:
            run("openssl", "genrsa", "-out", name, "2048", cwd=directory)
        else:
            run("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", name, cwd=directory)

    key("ca.key")
    run("openssl", "req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=Custos Test CA", "-days", "3650",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
        "-out", "ca.crt", cwd=directory)
    key("tsa.key")
    run("openssl", "req", "-new", "-key", "tsa.key", "-subj", "/CN=Custos Test TSA", "-out", "tsa.csr", cwd=directory)
    with open(os.path.join(directory, "ext.cnf"), "w") as ext:
        ext.write("basicConstraints=CA:FALSE\n")
        if eku:
            ext.write("extendedKeyUsage=critical,timeStamping\n")
    run("openssl", "x509", "-req", "-in", "tsa.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "3650", "-extfile", "ext.cnf", "-out", "tsa.crt", cwd=directory)
    with open(os.path.join(directory, "serial"), "w") as serial:
        serial.write("01\n")
    with open(os.path.join(directory, "tsa.cnf"), "w") as config:
        config.write(f"""[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = {directory}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.crt
certs = $dir/ca.crt
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
""")


def serve(directory):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            if length > 65536 or self.headers.get("Content-Type") != "application/timestamp-query":
                self.send_error(400)
                return
            query = self.rfile.read(length)
            with tempfile.TemporaryDirectory() as work:
                with open(os.path.join(work, "q.tsq"), "wb") as out:
                    out.write(query)
                result = subprocess.run(["openssl", "ts", "-reply", "-config", os.path.join(directory, "tsa.cnf"),
                                         "-queryfile", "q.tsq", "-out", "r.tsr"], cwd=work, capture_output=True)
                if result.returncode != 0:
                    self.send_error(500)
                    return
                with open(os.path.join(work, "r.tsr"), "rb") as reply:
                    body = reply.read()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_port, flush=True)
    server.serve_forever()


def main():
    directory = os.path.abspath(sys.argv[1])
    os.makedirs(directory, exist_ok=True)
    make_keys(directory, rsa="--rsa" in sys.argv, eku="--no-eku" not in sys.argv)
    serve(directory)


if __name__ == "__main__":
    main()
