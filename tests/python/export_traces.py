"""Sends traces to an OTLP/HTTP protobuf endpoint with the official Python SDK and exporter.

Used by tests/sink/python.rs. Each trace is a server root span with a client child span; prints
one JSON line per trace with the ids the SDK chose, so the test can compare them exactly.

Usage: export_traces.py ENDPOINT SERVICE COUNT   (ENDPOINT like http://127.0.0.1:4318/v1/traces)
Requires: pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http
"""
import json
import sys

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind


def main() -> int:
    endpoint, service, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    # gzip, so the sink's Content-Encoding path is exercised by a real exporter.
    exporter = OTLPSpanExporter(endpoint=endpoint, compression=Compression.Gzip, timeout=10)
    provider.add_span_processor(BatchSpanProcessor(exporter, max_export_batch_size=64))
    tracer = provider.get_tracer("tracebench-python-test")
    for i in range(count):
        with tracer.start_as_current_span(f"root-{i}", kind=SpanKind.SERVER) as root:
            with tracer.start_as_current_span("child", kind=SpanKind.CLIENT) as child:
                child.set_attribute("seq", i)
            rc, cc = root.get_span_context(), child.get_span_context()
            print(json.dumps({
                "trace_id": format(rc.trace_id, "032x"),
                "root": format(rc.span_id, "016x"),
                "child": format(cc.span_id, "016x"),
            }))
    if not provider.force_flush(timeout_millis=20_000):
        print("force_flush timed out", file=sys.stderr)
        return 1
    provider.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
