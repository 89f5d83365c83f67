"""A real prometheus_client target for vitals' peer tests.

Usage: prom_app.py PORT_NEGOTIATED PORT_TEXT
PORT_NEGOTIATED is prometheus_client's own start_http_server (OpenMetrics when the scraper asks
for it in Accept); PORT_TEXT always answers the classic text format 0.0.4.
Prints "ready" once both ports listen, then serves until killed.
"""
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest, start_http_server
from prometheus_client import REGISTRY

port_om, port_text = int(sys.argv[1]), int(sys.argv[2])

requests = Counter("myapp_requests", "Requests handled.", ["path"])
requests.labels(path="/a").inc(3)
requests.labels(path="/b").inc(4.5)
temperature = Gauge("myapp_temperature_celsius", "Current temperature.")
temperature.set(21.5)
latency = Histogram("myapp_latency_seconds", "Request latency.", ["method"], buckets=(0.1, 0.5, 1.0))
for v in (0.05, 0.3, 0.7, 2.0):
    latency.labels(method="GET").observe(v)


class TextOnly(BaseHTTPRequestHandler):
    def do_GET(self):
        body = generate_latest(REGISTRY)
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE_LATEST)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


start_http_server(port_om, addr="127.0.0.1")
text_server = ThreadingHTTPServer(("127.0.0.1", port_text), TextOnly)
threading.Thread(target=text_server.serve_forever, daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
