"""Fixtures of the registry tests: real registries, a token issuer, a misbehaving registry.

  Registry(auth=None|"htpasswd"|"token")  Debian's docker-registry (distribution 2.8) on
                                          127.0.0.1:<free port>, filesystem storage in a temp dir.
  TokenIssuer                              JWT (RS256, x5c) issuer for the registry's token auth.
  FaultyRegistry(image, mode, ...)         a small v2 server for one image with a fault mode.
  RegistryClient                           pushes blobs and manifests by HTTP (multi-arch, zstd).
  push_image(tarball, url, ref)            seeds a registry with skopeo.
  new_daemon(prefix, kind)                 berthd (tests/engine/engine_lib.Daemon, on copies of
                                           its binaries) or a private dockerd (engine_lib.Dockerd),
                                           by BERTH_TEST_DAEMON.

Every fixture is a context manager (or has close()) and removes what it made even on failure.
"""

import base64
import contextlib
import gzip
import hashlib
import http.server
import io
import json
import os
import shutil
import socket
import socketserver
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("BERTH_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "engine"))
import engine_lib  # noqa: E402
from engine_lib import (DAEMON_KIND, DOCKER, IMAGE_SCRIPT, make_busybox_image,  # noqa: E402,F401
                        wait_for)

REGISTRY_BIN = "/usr/bin/docker-registry"
BERTH_CLI = os.environ.get("BERTH_CLI") or os.path.join(engine_lib.BUILD_DIR, "berth")

MT_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MT_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MT_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MT_DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
MT_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+prettyjws"


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def jdump(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def non_loopback_ipv4():
    """An IPv4 address of this host outside 127.0.0.0/8 (a registry there is not insecure by
    default), or None."""
    r = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"],
                       capture_output=True, text=True)
    for line in r.stdout.splitlines():
        parts = line.split()
        if "inet" in parts:
            return parts[parts.index("inet") + 1].split("/")[0]
    return None


def go_arch():
    import platform
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(m, m)


def http_get(url, headers=None, timeout=10):
    """(status, headers, body) of a GET; HTTP errors are answers, not exceptions."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


# ---- images ---------------------------------------------------------------------------------

class Image:
    """A single-platform image as blobs: config bytes and (media type, bytes) layers."""

    def __init__(self, config, layers, oci=False):
        self.config = config
        self.layers = layers
        self.oci = oci

    @classmethod
    def from_tarball(cls, path, gzip_layers=True):
        """Reads a docker-save or OCI-layout tarball (tests/lib/make_busybox_image.py)."""
        with tarfile.open(path) as tar:
            names = tar.getnames()

            def read(name):
                return tar.extractfile(name).read()
            if "manifest.json" in names:
                entry = json.loads(read("manifest.json"))[0]
                layers = []
                for p in entry["Layers"]:
                    data = read(p)
                    if gzip_layers and data[:2] != b"\x1f\x8b":
                        data = gzip.compress(data, compresslevel=6, mtime=0)
                    layers.append((MT_DOCKER_LAYER_GZIP if data[:2] == b"\x1f\x8b"
                                   else "application/vnd.docker.image.rootfs.diff.tar", data))
                return cls(read(entry["Config"]), layers, oci=False)
            index = json.loads(read("index.json"))
            mdesc = index["manifests"][0]
            manifest = json.loads(read("blobs/sha256/" + mdesc["digest"][7:]))
            layers = []
            for d in manifest["layers"]:
                data = read("blobs/sha256/" + d["digest"][7:])
                mt = d["mediaType"]
                if gzip_layers and mt == MT_OCI_LAYER:
                    data, mt = gzip.compress(data, compresslevel=6, mtime=0), mt + "+gzip"
                layers.append((mt, data))
            return cls(read("blobs/sha256/" + manifest["config"]["digest"][7:]), layers, oci=True)

    def with_config(self, **changes):
        cfg = json.loads(self.config)
        cfg.update(changes)
        return Image(jdump(cfg), list(self.layers), self.oci)

    def with_layer(self, tar_bytes, compress=True):
        """This image plus one layer on top (tar_bytes uncompressed; gzipped unless told)."""
        cfg = json.loads(self.config)
        cfg["rootfs"]["diff_ids"].append(sha256(tar_bytes))
        cfg.setdefault("history", []).append({"created": cfg.get("created", ""),
                                              "created_by": "registry_lib layer"})
        data, mt = tar_bytes, (MT_OCI_LAYER if self.oci else
                               "application/vnd.docker.image.rootfs.diff.tar")
        if compress:
            data = gzip.compress(tar_bytes, compresslevel=1, mtime=0)
            mt = MT_OCI_LAYER + "+gzip" if self.oci else MT_DOCKER_LAYER_GZIP
        return Image(jdump(cfg), self.layers + [(mt, data)], self.oci)

    def with_unique_layer(self, name, size=2 << 20):
        """This image plus a layer holding /<name>.bin: `size` random bytes, new every call, so
        no daemon has it yet."""
        return self.with_layer(tar_of({f"{name}.bin": os.urandom(size)}))

    def manifest(self):
        if self.oci:
            mt, cmt = MT_OCI_MANIFEST, MT_OCI_CONFIG
        else:
            mt, cmt = MT_DOCKER_MANIFEST, MT_DOCKER_CONFIG
        m = {"schemaVersion": 2, "mediaType": mt,
             "config": {"mediaType": cmt, "digest": sha256(self.config), "size": len(self.config)},
             "layers": [{"mediaType": lmt, "digest": sha256(d), "size": len(d)}
                        for lmt, d in self.layers]}
        return mt, jdump(m)

    def blobs(self):
        out = {sha256(self.config): self.config}
        for _, d in self.layers:
            out[sha256(d)] = d
        return out

    @property
    def config_digest(self):
        return sha256(self.config)


def tar_of(files):
    """An uncompressed layer tar of {path: bytes} (root-owned files, fixed mtime)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), 0o644, 1700000000
            tar.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def busybox_tarball(directory, name="busybox.tar", fmt="docker", tag="busybox:latest", layers=0,
                    pad_mb=0):
    """tests/lib/make_busybox_image.py output in directory (made once per name)."""
    path = os.path.join(directory, name)
    if not os.path.exists(path):
        args = [sys.executable, IMAGE_SCRIPT, "--format", fmt, "--tag", tag, "--output", path]
        if layers:
            args += ["--layers", str(layers)]
        if pad_mb:
            args += ["--pad-mb", str(pad_mb)]
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    return path


def zstd_compress(data):
    r = subprocess.run(["zstd", "-q", "-c", "-3"], input=data, capture_output=True, check=True)
    return r.stdout


# ---- the real registry ----------------------------------------------------------------------

class TokenIssuer:
    """A Bearer token issuer for docker-registry's token auth (docs/spec/auth/token.md).

    GET /token?service=&scope=... with Basic user:password answers {"token", "access_token",
    "expires_in", "issued_at"}; the JWT is RS256-signed by a self-signed certificate sent in the
    x5c header, whose PEM (root_pem) the registry is given as rootcertbundle. Every requested
    action is granted to the user; anonymous requests get 401 unless anonymous_pull.
    requests counts token requests (tests check token reuse).
    """

    def __init__(self, directory, user="user", password="pass", service="berth-test-registry",
                 issuer="berth-test-issuer", anonymous_pull=False, expires_in=300):
        import datetime

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa
        from cryptography.x509.oid import NameOID
        self.user, self.password = user, password
        self.service, self.issuer = service, issuer
        self.anonymous_pull = anonymous_pull
        self.expires_in = expires_in
        self.requests = 0
        self.log = []
        self._lock = threading.Lock()
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "berth test token issuer")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(self._key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=2))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(self._key, hashes.SHA256()))
        self._cert_der = cert.public_bytes(serialization.Encoding.DER)
        self.root_pem = os.path.join(directory, "token-root.pem")
        with open(self.root_pem, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        self._sign = lambda data: self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        issuer_self = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):  # noqa: N802
                issuer_self._handle(self)

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.realm = f"http://127.0.0.1:{self.port}/token"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _b64(self, data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    def make_token(self, subject, access):
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256",
                  "x5c": [base64.b64encode(self._cert_der).decode()]}
        claims = {"iss": self.issuer, "sub": subject, "aud": self.service, "exp": now + self.expires_in,
                  "nbf": now - 60, "iat": now, "jti": uuid.uuid4().hex, "access": access}
        signing_input = (self._b64(jdump(header)) + "." + self._b64(jdump(claims))).encode()
        sig = self._sign(signing_input)
        return signing_input.decode() + "." + self._b64(sig)

    def _handle(self, h):
        url = urllib.parse.urlsplit(h.path)
        q = urllib.parse.parse_qs(url.query)
        auth = h.headers.get("Authorization", "")
        user = None
        if auth.startswith("Basic "):
            try:
                u, _, p = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                u, p = "", ""
            if u == self.user and p == self.password:
                user = u
            else:
                user = False
        with self._lock:
            self.requests += 1
            self.log.append({"path": url.path, "query": q, "user": user})
        if url.path != "/token" or user is False or (user is None and not self.anonymous_pull):
            body = jdump({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]})
            h.send_response(401)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
            return
        access = []
        for scope in q.get("scope", []):
            for one in scope.split(" "):
                parts = one.split(":")
                if len(parts) < 3:
                    continue
                typ, name, actions = parts[0], ":".join(parts[1:-1]), parts[-1].split(",")
                if user is None:
                    actions = [a for a in actions if a == "pull"]
                access.append({"type": typ, "name": name, "actions": actions})
        token = self.make_token(user or "", access)
        body = jdump({"token": token, "access_token": token, "expires_in": self.expires_in,
                      "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def reset(self):
        with self._lock:
            self.requests = 0
            self.log = []

    def close(self):
        self._server.shutdown()
        self._server.server_close()


class Registry:
    """docker-registry serve on 127.0.0.1:<free port>; auth None, "htpasswd" or "token"."""

    def __init__(self, auth=None, user="user", password="pass", anonymous_pull=False,
                 address="127.0.0.1"):
        if not os.access(REGISTRY_BIN, os.X_OK):
            raise unittest.SkipTest(f"{REGISTRY_BIN} not installed (apt install docker-registry)")
        self.auth, self.user, self.password = auth, user, password
        self.address = address
        self.dir = tempfile.mkdtemp(prefix="berth-registry-")
        self.proc = None
        self.issuer = None
        try:
            self._start(anonymous_pull)
        except BaseException:
            self.close()
            raise

    def _start(self, anonymous_pull):
        self.port = free_port(self.address)
        self.host = f"{self.address}:{self.port}"
        self.url = f"http://{self.host}"
        storage = os.path.join(self.dir, "storage")
        os.makedirs(storage)
        lines = ["version: 0.1", "log:", "  level: warn", "  accesslog:", "    disabled: true",
                 "storage:", "  filesystem:", f"    rootdirectory: {storage}", "  delete:",
                 "    enabled: true", "  maintenance:", "    uploadpurging:", "      enabled: false",
                 "http:", f"  addr: {self.host}", f"  secret: {uuid.uuid4().hex}"]
        if self.auth == "htpasswd":
            hp = subprocess.run(["htpasswd", "-Bbn", self.user, self.password], check=True,
                                capture_output=True, text=True).stdout
            path = os.path.join(self.dir, "htpasswd")
            with open(path, "w") as f:
                f.write(hp)
            lines += ["auth:", "  htpasswd:", "    realm: berth-test", f"    path: {path}"]
        elif self.auth == "token":
            self.issuer = TokenIssuer(self.dir, self.user, self.password,
                                      anonymous_pull=anonymous_pull)
            lines += ["auth:", "  token:", f"    realm: {self.issuer.realm}",
                      f"    service: {self.issuer.service}", f"    issuer: {self.issuer.issuer}",
                      f"    rootcertbundle: {self.issuer.root_pem}"]
        elif self.auth:
            raise ValueError(f"unknown auth {self.auth!r}")
        cfg = os.path.join(self.dir, "config.yml")
        with open(cfg, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.log_path = os.path.join(self.dir, "registry.log")
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([REGISTRY_BIN, "serve", cfg], stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

        def up():
            if self.proc.poll() is not None:
                raise AssertionError(f"docker-registry exited {self.proc.returncode}: "
                                     f"{self.read_log()}")
            try:
                return http_get(self.url + "/v2/", timeout=2)[0] in (200, 401)
            except OSError:
                return False
        wait_for(up, timeout=20, interval=0.05, what="docker-registry to answer")

    def read_log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def ref(self, repo_tag):
        return f"{self.host}/{repo_tag}"

    def creds(self):
        return f"{self.user}:{self.password}" if self.auth else None

    def client(self):
        return RegistryClient(self.url, self.creds())

    def storage_dir(self):
        return os.path.join(self.dir, "storage")

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.issuer:
            self.issuer.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class RegistryClient:
    """Just enough of a v2 client to push blobs and manifests (Basic or Bearer, plain HTTP)."""

    def __init__(self, url, creds=None):
        self.url = url.rstrip("/")
        self.creds = creds
        self._auth = None

    def _basic(self):
        return "Basic " + base64.b64encode(self.creds.encode()).decode() if self.creds else None

    def _authorize(self, challenge):
        scheme, _, params = challenge.partition(" ")
        if scheme.lower() == "basic":
            self._auth = self._basic()
            return
        kv = {}
        for part in params.split(","):
            k, _, v = part.strip().partition("=")
            kv[k] = v.strip('"')
        # A quoted scope may hold commas: take it whole.
        if 'scope="' in params:
            kv["scope"] = params.split('scope="', 1)[1].split('"', 1)[0]
        q = {"service": kv.get("service", "")}
        if kv.get("scope"):
            q["scope"] = kv["scope"]
        headers = {"Authorization": self._basic()} if self.creds else {}
        status, _, body = http_get(kv["realm"] + "?" + urllib.parse.urlencode(q), headers)
        if status != 200:
            raise AssertionError(f"token request failed: {status} {body!r}")
        j = json.loads(body)
        self._auth = "Bearer " + (j.get("token") or j["access_token"])

    def request(self, method, path, body=None, headers=None, expect=(200, 201, 202)):
        url = path if path.startswith("http") else self.url + path
        for attempt in range(2):
            h = dict(headers or {})
            if self._auth:
                h["Authorization"] = self._auth
            req = urllib.request.Request(url, data=body, method=method, headers=h)
            try:
                with urllib.request.urlopen(req, timeout=60) as r:
                    status, rh, data = r.status, r.headers, r.read()
            except urllib.error.HTTPError as e:
                status, rh, data = e.code, e.headers, e.read()
            if status == 401 and attempt == 0:
                self._authorize(rh.get("WWW-Authenticate", ""))
                continue
            break
        if status not in expect:
            raise AssertionError(f"{method} {url}: {status} {data[:500]!r}")
        return status, rh, data

    def put_blob(self, repo, data):
        digest = sha256(data)
        status, _, _ = self.request("HEAD", f"/v2/{repo}/blobs/{digest}", expect=(200, 404))
        if status == 200:
            return digest
        _, h, _ = self.request("POST", f"/v2/{repo}/blobs/uploads/", body=b"",
                               headers={"Content-Length": "0"})
        loc = urllib.parse.urljoin(self.url + "/", h["Location"])
        sep = "&" if "?" in loc else "?"
        self.request("PUT", f"{loc}{sep}digest={digest}", body=data,
                     headers={"Content-Type": "application/octet-stream"}, expect=(201,))
        return digest

    def put_manifest(self, repo, ref, media_type, data):
        self.request("PUT", f"/v2/{repo}/manifests/{ref}", body=data,
                     headers={"Content-Type": media_type}, expect=(201,))
        return sha256(data)

    def push(self, repo, ref, image):
        for data in image.blobs().values():
            self.put_blob(repo, data)
        mt, m = image.manifest()
        return self.put_manifest(repo, ref, mt, m)

    def push_index(self, repo, ref, entries, oci=True):
        """entries: [(image, {"architecture":..., "os":..., ...})]. Returns the index digest."""
        descs = []
        for image, plat in entries:
            mt, m = image.manifest()
            for data in image.blobs().values():
                self.put_blob(repo, data)
            d = self.put_manifest(repo, sha256(m), mt, m)
            descs.append({"mediaType": mt, "digest": d, "size": len(m), "platform": plat})
        imt = MT_OCI_INDEX if oci else MT_DOCKER_LIST
        index = jdump({"schemaVersion": 2, "mediaType": imt, "manifests": descs})
        return self.put_manifest(repo, ref, imt, index)

    def get_manifest(self, repo, ref):
        accept = ",".join([MT_OCI_INDEX, MT_OCI_MANIFEST, MT_DOCKER_LIST, MT_DOCKER_MANIFEST])
        _, h, data = self.request("GET", f"/v2/{repo}/manifests/{ref}",
                                  headers={"Accept": accept}, expect=(200,))
        return h.get("Content-Type"), data

    def get_blob(self, repo, digest):
        return self.request("GET", f"/v2/{repo}/blobs/{digest}", expect=(200,))[2]


def push_image(tarball, registry_url, ref, creds=None, fmt="docker-archive"):
    """skopeo copy <fmt>:tarball docker://host:port/ref (plain HTTP). Returns skopeo's result."""
    host = registry_url.split("://", 1)[-1].rstrip("/")
    args = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false"]
    if creds:
        args += ["--dest-creds", creds]
    args += [f"{fmt}:{tarball}", f"docker://{host}/{ref}"]
    r = subprocess.run(args, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {r.returncode}: {r.stderr}")
    return r


def skopeo_inspect(ref, creds=None, raw=False):
    args = ["skopeo", "inspect", "--tls-verify=false"]
    if creds:
        args += ["--creds", creds]
    if raw:
        args.append("--raw")
    r = subprocess.run(args + [f"docker://{ref}"], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise AssertionError(f"skopeo inspect {ref}: {r.stderr}")
    return json.loads(r.stdout)


# ---- the misbehaving registry ---------------------------------------------------------------

def registry_error(code, message):
    """A registry error body: {"errors":[{"code","message"}]}."""
    return jdump({"errors": [{"code": code, "message": message}]})


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # A client that hangs up mid-body (a refused huge manifest, a killed daemon) is expected.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class FaultyRegistry:
    """A small Docker Registry v2 server that serves one image (under any repository name, any
    tag, and by digest) with a fault:

      None            behaves
      "corrupt"       the target layer blob's bytes are altered (same length)
      "drop"          the target layer's connection closes halfway the first `count` times;
                      Range requests are honoured (206) so a client can resume
      "500"           the first `count` blob GETs answer 500, then normal
      "500-forever"   every blob GET answers 500
      "redirect"      blob GETs answer 307 to a second server at 127.0.0.2:<port>; that server
                      records whether an Authorization header arrived (redirect_auth)
      "schema1"       the manifest is Docker schema 1 (signed, prettyjws)
      "huge-manifest" the manifest is `huge_mb` MiB of valid JSON
      "stall"         the target layer sends half its bytes, then waits until release() (or
                      close()); stalled is an Event set when that happens

    The target layer is the image's top layer: give each test an image of its own
    (Image.with_unique_layer) so that no daemon already has that layer.

    auth="basic" requires user:password (401 with a Basic challenge otherwise).
    requests logs (method, path, range, authorization) of every request.
    """

    def __init__(self, image, mode=None, count=2, auth=None, user="user", password="pass",
                 huge_mb=8):
        self.image, self.mode, self.count = image, mode, count
        self.auth, self.user, self.password = auth, user, password
        self.huge_mb = huge_mb
        self.requests = []
        self.redirect_requests = []
        self.faults = 0
        self.stalled = threading.Event()
        self._release = threading.Event()
        self._lock = threading.Lock()
        self.blobs = image.blobs()
        self.manifest_type, self.manifest = image.manifest()
        if mode == "schema1":
            self.manifest_type, self.manifest = MT_SCHEMA1, self._schema1()
        elif mode == "huge-manifest":
            self.manifest = self._huge()
        self.manifest_digest = sha256(self.manifest)
        self.target_layer = sha256(image.layers[-1][1])
        self._servers = []
        self.port = self._serve("127.0.0.1", self._handler(main=True))
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        if mode == "redirect":
            self.redirect_port = self._serve("127.0.0.2", self._handler(main=False))

    def _serve(self, host, handler):
        srv = _Server((host, 0), handler)
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        self._servers.append(srv)
        return srv.server_address[1]

    def _schema1(self):
        cfg = json.loads(self.image.config)
        fs_layers = [{"blobSum": sha256(d)} for _, d in reversed(self.image.layers)]
        history = [{"v1Compatibility": json.dumps({"id": hashlib.sha256(str(i).encode()).hexdigest(),
                                                   "created": cfg.get("created", ""),
                                                   "architecture": cfg.get("architecture")})}
                   for i in range(len(fs_layers))]
        body = {"schemaVersion": 1, "name": "test/schema1", "tag": "latest",
                "architecture": cfg.get("architecture", "amd64"), "fsLayers": fs_layers,
                "history": history,
                "signatures": [{"header": {"jwk": {"crv": "P-256", "kty": "EC", "x": "AA", "y": "AA"},
                                           "alg": "ES256"},
                                "signature": "AAAA", "protected": "e30"}]}
        return json.dumps(body, indent=3).encode()

    def _huge(self):
        m = json.loads(self.manifest)
        m["annotations"] = {"pad": "x" * (self.huge_mb << 20)}
        return jdump(m)

    def release(self):
        self._release.set()

    def _handler(self, main):
        reg = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):  # noqa: N802
                reg._handle(self, main, head=False)

            def do_HEAD(self):  # noqa: N802
                reg._handle(self, main, head=True)

            def do_POST(self):  # noqa: N802
                reg._reply(self, 405, registry_error("UNSUPPORTED", "read-only"))

            do_PUT = do_PATCH = do_DELETE = do_POST
        return Handler

    def _reply(self, h, status, body=b"", headers=None, head=False):
        h.send_response(status)
        hdrs = {"Content-Type": "application/json", "Docker-Distribution-API-Version": "registry/2.0"}
        hdrs.update(headers or {})
        for k, v in hdrs.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if not head and body:
            h.wfile.write(body)

    def _authorized(self, h):
        if self.auth != "basic":
            return True
        want = "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return h.headers.get("Authorization") == want

    def _handle(self, h, main, head):
        path = urllib.parse.urlsplit(h.path).path
        entry = {"method": h.command, "path": path, "range": h.headers.get("Range"),
                 "authorization": h.headers.get("Authorization")}
        with self._lock:
            (self.requests if main else self.redirect_requests).append(entry)
        if not main:
            return self._send_blob(h, path.rsplit("/", 1)[-1], head)
        if not self._authorized(h):
            return self._reply(h, 401, registry_error("UNAUTHORIZED", "authentication required"),
                               {"WWW-Authenticate": 'Basic realm="berth-faulty"'}, head)
        if path in ("/v2", "/v2/"):
            return self._reply(h, 200, b"{}", head=head)
        parts = path.split("/")
        if len(parts) < 5 or parts[1] != "v2":
            return self._reply(h, 404, registry_error("NOT_FOUND", "not found"), head=head)
        kind, ref = parts[-2], parts[-1]
        if kind == "tags" and ref == "list":
            name = "/".join(parts[2:-2])
            return self._reply(h, 200, jdump({"name": name, "tags": ["latest"]}), head=head)
        if kind == "manifests":
            if ref.startswith("sha256:") and ref != self.manifest_digest:
                return self._reply(h, 404, registry_error("MANIFEST_UNKNOWN", "manifest unknown"),
                                   head=head)
            return self._reply(h, 200, self.manifest,
                               {"Content-Type": self.manifest_type,
                                "Docker-Content-Digest": self.manifest_digest}, head)
        if kind == "blobs":
            if ref not in self.blobs:
                return self._reply(h, 404, registry_error("BLOB_UNKNOWN", "blob unknown to registry"),
                                   head=head)
            if not head and self.mode in ("500", "500-forever"):
                with self._lock:
                    fail = self.mode == "500-forever" or self.faults < self.count
                    if fail:
                        self.faults += 1
                if fail:
                    return self._reply(h, 500, registry_error("UNKNOWN", "injected failure"))
            if not head and self.mode == "redirect":
                loc = f"http://127.0.0.2:{self.redirect_port}/blobs/{ref}"
                return self._reply(h, 307, b"", {"Location": loc})
            return self._send_blob(h, ref, head)
        return self._reply(h, 404, registry_error("NOT_FOUND", "not found"), head=head)

    def _send_blob(self, h, digest, head):
        data = self.blobs.get(digest)
        if data is None:
            return self._reply(h, 404, b"", head=head)
        if self.mode == "corrupt" and digest == self.target_layer:
            mid = len(data) // 2
            data = data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1:]
        start, status = 0, 200
        rng = h.headers.get("Range")
        headers = {"Content-Type": "application/octet-stream", "Docker-Content-Digest": digest,
                   "Accept-Ranges": "bytes"}
        if rng and rng.startswith("bytes="):
            a, _, b = rng[6:].partition("-")
            start = int(a or 0)
            end = int(b) if b else len(data) - 1
            if start >= len(data):
                return self._reply(h, 416, b"", {"Content-Range": f"bytes */{len(data)}"}, head)
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            data = data[start:end + 1]
        else:
            data = data
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if head:
            return
        fault = None
        if digest == self.target_layer and self.mode in ("drop", "stall"):
            with self._lock:
                if self.mode == "stall" or self.faults < self.count:
                    self.faults += 1
                    fault = self.mode
        if fault:
            half = len(data) // 2
            h.wfile.write(data[:half])
            h.wfile.flush()
            if fault == "stall":
                self.stalled.set()
                self._release.wait()
            h.close_connection = True
            with contextlib.suppress(OSError):
                h.connection.shutdown(socket.SHUT_RDWR)
            return
        h.wfile.write(data)

    def blob_gets(self, digest=None):
        return [r for r in self.requests if r["method"] == "GET" and "/blobs/" in r["path"]
                and (digest is None or r["path"].endswith(digest))]

    def close(self):
        self._release.set()
        for s in self._servers:
            s.shutdown()
            s.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---- daemons ----------------------------------------------------------------------------------

def new_daemon(prefix="berth-reg-", kind=None):
    """engine_lib.new_daemon with copies of berthd's binaries (the lead rebuilds the build tree
    while these tests run)."""
    return engine_lib.new_daemon(prefix, kind, copy_binaries=True)


def berth_cli():
    """The berth binary, copied; SkipTest when not built."""
    if not os.access(BERTH_CLI, os.X_OK):
        raise unittest.SkipTest(f"berth CLI not built: {BERTH_CLI!r} (set BERTH_CLI)")
    return BERTH_CLI


def image_ids(daemon):
    r = daemon.docker("images", "-aq", "--no-trunc", check=True)
    return set(r.stdout.split())


def ingest_leftovers(daemon):
    """Files under berthd's <data-root>/content/ingest (none for dockerd)."""
    d = os.path.join(daemon.data_root, "content", "ingest")
    if not os.path.isdir(d):
        return []
    return sorted(os.listdir(d))


def stored_blob(daemon, digest):
    """Whether berthd's content store holds digest (always False for dockerd)."""
    return os.path.exists(os.path.join(daemon.data_root, "content", "blobs", "sha256",
                                       digest.split(":", 1)[1]))
