"""Confluent's own Python client against a traceledger node and its topics.

Drives the node's schema registry (/registry) with confluent_kafka's
SchemaRegistryClient, then consumes the node's raw and sealed topics from
the broker with confluent_kafka's Consumer and decodes every message with
its AvroDeserializer: nothing of traceledger's own code on this side.
Prints one JSON object with what it saw; crates/cli/tests/registry.rs
checks it against what the node was sent.

    python confluent_client.py REGISTRY_URL BROKERS RAW_TOPIC SEALED_TOPIC TENANT EXPECTED AVSC_DIR
"""
import json
import sys
import time

from confluent_kafka import Consumer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

url, brokers, raw_topic, sealed_topic, tenant, expected, avsc_dir = sys.argv[1:8]
expected = int(expected)
out = {}

sr = SchemaRegistryClient({"url": url})
out["subjects"] = sorted(sr.get_subjects())
latest = sr.get_latest_version(f"{raw_topic}-value")
out["raw_latest"] = {"id": latest.schema_id, "version": latest.version}
# A producer registers the schema it writes with: the node's own file.
with open(f"{avsc_dir}/trace-event.avsc") as f:
    out["register_same"] = sr.register_schema(f"{raw_topic}-value", Schema(f.read(), "AVRO"))
try:
    other = '{"type": "record", "name": "Other", "fields": [{"name": "x", "type": "long"}]}'
    sr.register_schema(f"{raw_topic}-value", Schema(other, "AVRO"))
    out["register_other"] = "accepted"
except SchemaRegistryError as e:
    out["register_other"] = {"status": e.http_status_code, "error_code": e.error_code}


def consume(topic, n, tenant_of):
    """Messages of topic decoded by Confluent's deserializer until n are of
    the tenant (the node's own access chain shares the topics)."""
    des = AvroDeserializer(sr)
    c = Consumer({
        "bootstrap.servers": brokers,
        "group.id": f"confluent-interop-{topic}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    c.subscribe([topic])
    got, deadline = [], time.monotonic() + 60
    while sum(tenant_of(v) == tenant for v in got) < n and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            raise RuntimeError(str(m.error()))
        got.append(des(m.value(), SerializationContext(topic, MessageField.VALUE)))
    c.close()
    return [v for v in got if tenant_of(v) == tenant]


events = consume(raw_topic, expected, lambda e: e["tenant_id"])
out["raw"] = [
    {"event_id": str(e["event_id"]), "tenant_id": e["tenant_id"], "input": e.get("input")} for e in events
]
sealed = consume(sealed_topic, expected, lambda r: r["tenant_id"])
out["sealed"] = [
    {
        "seq": r["seq"],
        "tenant_id": r["tenant_id"],
        "event_id": str(r["event"]["event_id"]),
        "leaf_hash_len": len(r["leaf_hash"]),
        "signature_len": len(r["signature"]),
    }
    for r in sealed
]
print(json.dumps(out, default=str))
