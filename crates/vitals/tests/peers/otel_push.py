"""Pushes metrics to an OTLP/HTTP endpoint with the real OpenTelemetry Python SDK.

Usage: otel_push.py ENDPOINT
Exports a few times (PeriodicExportingMetricReader, 200 ms), then force_flush() and shutdown().
"""
import sys
import time

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.metrics import Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

endpoint = sys.argv[1]
resource = Resource.create(
    {
        "service.name": "otel-test",
        "service.instance.id": "inst-1",
        "deployment.environment": "ci",
        "host.name": "h1",
    }
)
reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=endpoint, timeout=10), export_interval_millis=200)
provider = MeterProvider(resource=resource, metric_readers=[reader])
meter = provider.get_meter("vitals-peer-test", "1.0")

jobs = meter.create_counter("jobs.done", description="Jobs finished.")
net = meter.create_counter("net.io", unit="By", description="Bytes moved.")
queue = meter.create_up_down_counter("queue.size", description="Items queued.")
duration = meter.create_histogram("http.server.duration", unit="ms", description="Request duration.")
meter.create_observable_gauge(
    "memory.usage", callbacks=[lambda _opts: [Observation(12345.0, {"area": "heap"})]], unit="By", description="Memory."
)

jobs.add(5, {"queue": "q1"})
net.add(1000, {"direction": "rx"})
queue.add(10, {"queue": "q1"})
queue.add(-3, {"queue": "q1"})
for v in (5, 50, 500):
    duration.record(v, {"http.method": "GET"})
time.sleep(0.5)
jobs.add(2, {"queue": "q1"})
time.sleep(0.5)
ok = reader.force_flush(timeout_millis=10000)
provider.shutdown()
print("flushed" if ok else "flush failed", flush=True)
sys.exit(0 if ok else 1)
