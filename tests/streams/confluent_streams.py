"""Confluent's own Python client reading traceledger's projection streams.

Consumes projections.pii, .anomalies, .sessions and .availability from the
broker with confluent_kafka's Consumer and decodes every message with its
AvroDeserializer against the node's schema registry (/registry): nothing of
traceledger's code on this side. Reads until it has seen at least the
expected number of distinct keys of each of the first three streams for the
tenant, then until the topics stay quiet for two seconds (so that extra
messages, repeats included, are seen too). Prints one JSON object: per
stream, every message of the tenant as {key, partition, dedup_key,
version, digest}; crates/cli/tests/streams.rs checks it against the HTTP
API.

    python confluent_streams.py REGISTRY_URL BROKERS PREFIX TENANT PII ANOMALIES SESSIONS
"""
import hashlib
import json
import sys
import time

from confluent_kafka import Consumer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

url, brokers, prefix, tenant = sys.argv[1:5]
want = dict(zip(["pii", "anomalies", "sessions"], map(int, sys.argv[5:8])))
names = ["pii", "anomalies", "sessions", "availability"]
topics = {f"{prefix}projections.{n}": n for n in names}

sr = SchemaRegistryClient({"url": url})
des = AvroDeserializer(sr)
c = Consumer({
    "bootstrap.servers": brokers,
    "group.id": f"streams-interop-{time.time_ns()}",
    "auto.offset.reset": "earliest",
    "enable.auto.commit": False,
})
c.subscribe(list(topics))
seen = {n: [] for n in names}
keys = {n: set() for n in names}


def enough():
    return all(len(keys[n]) >= k for n, k in want.items())


deadline = time.monotonic() + 120
quiet_since = None
while time.monotonic() < deadline:
    m = c.poll(0.25)
    if m is None:
        if enough():
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= 2:
                break
        continue
    if m.error():
        raise RuntimeError(str(m.error()))
    quiet_since = None
    name = topics[m.topic()]
    v = des(m.value(), SerializationContext(m.topic(), MessageField.VALUE))
    if v["tenant_id"] != tenant:
        continue
    keys[name].add(v["dedup_key"])
    seen[name].append({
        "key": m.key().decode(),
        "partition": m.partition(),
        "dedup_key": v["dedup_key"],
        "version": v.get("version"),
        "last_seq": v.get("last_seq"),
        "recorded": v.get("recorded"),
        "digest": hashlib.sha256(json.dumps(v, sort_keys=True, default=str).encode()).hexdigest(),
    })
c.close()
print(json.dumps(seen))
