//! The Kafka backend: any Kafka-API broker through rdkafka.
//!
//! Appends use an idempotent producer (`enable.idempotence`, `acks=all`) and
//! wait for every delivery report, so a returned offset is on the broker.
//! Reads assign the one partition at the asked offset (no group membership:
//! who reads which partition is decided above this layer), and positions
//! are committed per consumer group with synchronous commits. No Kafka
//! transactions are used: tansu, which our tests run on, has none.

use crate::{Error, Fetched, Log, PendingAppend, Record, Result};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the producer sets as `message.max.bytes` and the topics it creates
/// as `max.message.bytes`: a record of 1 MiB (the largest raw event and the
/// largest sealed record the sequencer takes) plus room for its key,
/// headers (a dead letter's reason) and batch framing. librdkafka's own
/// default (1,000,000) is below a 1 MiB record, and a message over the
/// limit fails without retry; set explicitly, every record the sequencer
/// admits can be published.
pub const MESSAGE_LIMIT: usize = (1 << 20) + (64 << 10);

/// How much a consumer prefetches per partition it reads (librdkafka's
/// `queued.max.messages.kbytes`, 64 MiB by default, times one consumer per
/// partition read would be GB-scale on a small pod). librdkafka lowers
/// `fetch.max.bytes` to it when that is left unset.
const PREFETCH_KBYTES: usize = 8 << 10;

/// How to reach the broker.
#[derive(Debug, Clone)]
pub struct KafkaConfig {
    /// Bootstrap servers, `host:port[,host:port]`.
    pub brokers: String,
    /// `client.id` prefix naming the stage (`traceledger-sequencer`).
    pub client_id: String,
    /// Replication factor of topics this client creates; `None` uses the
    /// broker's default.
    pub replication_factor: Option<i32>,
    /// Longest wait for the broker on any one call.
    pub timeout: Duration,
    /// Longest time the broker may hold a fetch that has no new records
    /// (`fetch.wait.max.ms`). Kafka and Redpanda answer as soon as records
    /// arrive; tansu holds every fetch this long, so librdkafka's 500 ms
    /// default put ~1 s on each record's way from the SDK to a sealed
    /// record there (two fetch hops; `traceledger bench --only latency`).
    pub fetch_wait: Duration,
}

impl KafkaConfig {
    /// A config for `brokers` with a 30 s timeout and the broker's replication default.
    pub fn new(brokers: &str, client_id: &str) -> Self {
        KafkaConfig {
            brokers: brokers.to_string(),
            client_id: client_id.to_string(),
            replication_factor: None,
            timeout: Duration::from_secs(30),
            fetch_wait: Duration::from_millis(20),
        }
    }
}

fn broker(e: KafkaError) -> Error {
    let retriable = match &e {
        KafkaError::MessageProduction(c)
        | KafkaError::MessageConsumption(c)
        | KafkaError::MetadataFetch(c)
        | KafkaError::ConsumerCommit(c)
        | KafkaError::OffsetFetch(c)
        | KafkaError::AdminOp(c)
        | KafkaError::Flush(c) => matches!(
            c,
            RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::MessageTimedOut
                | RDKafkaErrorCode::RequestTimedOut
                | RDKafkaErrorCode::OperationTimedOut
                | RDKafkaErrorCode::QueueFull
                | RDKafkaErrorCode::NotLeaderForPartition
                | RDKafkaErrorCode::LeaderNotAvailable
                | RDKafkaErrorCode::NotCoordinator
                | RDKafkaErrorCode::CoordinatorNotAvailable
                | RDKafkaErrorCode::CoordinatorLoadInProgress
                | RDKafkaErrorCode::NetworkException
        ),
        _ => false,
    };
    Error::Broker { message: e.to_string(), retriable }
}

/// Delivery reports of one append, filled in by the producer's callback.
type Slots = Mutex<Vec<Option<std::result::Result<i64, KafkaError>>>>;

struct Delivery;

impl ClientContext for Delivery {}

impl ProducerContext for Delivery {
    type DeliveryOpaque = Box<(Arc<Slots>, usize)>;

    fn delivery(&self, result: &DeliveryResult<'_>, opaque: Self::DeliveryOpaque) {
        let (slots, i) = *opaque;
        let r = match result {
            Ok(m) => Ok(m.offset()),
            Err((e, _)) => Err(e.clone()),
        };
        let mut guard = slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = guard.get_mut(i) {
            *slot = Some(r);
        }
    }
}

struct Reader {
    consumer: BaseConsumer,
    /// (topic, partition, next offset) the consumer is positioned at.
    at: Option<(String, u32, u64)>,
}

type SharedReader = Arc<Mutex<Reader>>;

/// A [`Log`] on a Kafka-API broker.
pub struct KafkaLog {
    config: KafkaConfig,
    producer: BaseProducer<Delivery>,
    admin: AdminClient<DefaultClientContext>,
    /// One consumer per (topic, partition) read, so threads reading
    /// different partitions neither wait for each other nor discard each
    /// other's prefetched records by re-assigning a shared consumer.
    readers: Mutex<HashMap<(String, u32), SharedReader>>,
    /// For watermark queries.
    meta: Mutex<BaseConsumer>,
    groups: Mutex<HashMap<String, Arc<BaseConsumer>>>,
}

impl KafkaLog {
    /// Connects (lazily: librdkafka connects on first use).
    pub fn new(config: KafkaConfig) -> Result<Self> {
        let base = |role: &str| {
            let mut c = ClientConfig::new();
            c.set("bootstrap.servers", &config.brokers)
                .set("client.id", format!("{}-{role}", config.client_id))
                .set("socket.timeout.ms", config.timeout.as_millis().to_string());
            c
        };
        let producer = base("producer")
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "2")
            .set("message.max.bytes", MESSAGE_LIMIT.to_string())
            .set("message.timeout.ms", config.timeout.as_millis().to_string())
            .create_with_context(Delivery)
            .map_err(broker)?;
        let admin = base("admin").create().map_err(broker)?;
        let meta = Self::consumer(&config, &format!("{}-reader", config.client_id))?;
        Ok(KafkaLog {
            producer,
            admin,
            readers: Mutex::new(HashMap::new()),
            meta: Mutex::new(meta),
            groups: Mutex::new(HashMap::new()),
            config,
        })
    }

    fn consumer(config: &KafkaConfig, group: &str) -> Result<BaseConsumer> {
        ClientConfig::new()
            .set("bootstrap.servers", &config.brokers)
            .set("client.id", format!("{}-consumer", config.client_id))
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false")
            .set("fetch.wait.max.ms", config.fetch_wait.as_millis().to_string())
            .set("queued.max.messages.kbytes", PREFETCH_KBYTES.to_string())
            .create()
            .map_err(broker)
    }

    fn group(&self, group: &str) -> Result<Arc<BaseConsumer>> {
        let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = groups.get(group) {
            return Ok(c.clone());
        }
        let c = Arc::new(Self::consumer(&self.config, group)?);
        groups.insert(group.to_string(), c.clone());
        Ok(c)
    }

    fn reader(&self, topic: &str, partition: u32) -> Result<SharedReader> {
        let mut readers = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = readers.get(&(topic.to_string(), partition)) {
            return Ok(r.clone());
        }
        let consumer = Self::consumer(&self.config, &format!("{}-reader", self.config.client_id))?;
        let r = Arc::new(Mutex::new(Reader { consumer, at: None }));
        readers.insert((topic.to_string(), partition), r.clone());
        Ok(r)
    }
}

impl Log for KafkaLog {
    fn ensure_topic(&self, topic: &str, partitions: u32) -> Result<u32> {
        if let Ok(n) = self.partition_count(topic) {
            return Ok(n);
        }
        let repl = TopicReplication::Fixed(self.config.replication_factor.unwrap_or(-1));
        let limit = MESSAGE_LIMIT.to_string();
        let new = NewTopic::new(topic, partitions as i32, repl).set("max.message.bytes", &limit);
        let opts = AdminOptions::new().operation_timeout(Some(self.config.timeout));
        let results = futures_executor::block_on(self.admin.create_topics([&new], &opts)).map_err(broker)?;
        for r in results {
            match r {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((t, code)) => {
                    return Err(Error::Broker { message: format!("creating topic `{t}`: {code}"), retriable: false })
                }
            }
        }
        // Metadata can lag creation by a moment.
        let deadline = Instant::now() + self.config.timeout;
        loop {
            match self.partition_count(topic) {
                Ok(n) => return Ok(n),
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    fn partition_count(&self, topic: &str) -> Result<u32> {
        let md = self.producer.client().fetch_metadata(Some(topic), self.config.timeout).map_err(broker)?;
        match md.topics().iter().find(|t| t.name() == topic) {
            Some(t) if t.error().is_none() && !t.partitions().is_empty() => Ok(t.partitions().len() as u32),
            _ => Err(Error::UnknownTopic(topic.to_string())),
        }
    }

    fn append(&self, topic: &str, partition: u32, records: &[Record]) -> Result<Vec<u64>> {
        self.start_append(topic, partition, records)?.wait()
    }

    /// Queues the records on the idempotent producer (which keeps a
    /// partition's records in the order queued, across retries); the wait
    /// serves delivery reports until this append's are all in.
    fn start_append(&self, topic: &str, partition: u32, records: &[Record]) -> Result<PendingAppend<'_>> {
        let slots: Arc<Slots> = Arc::new(Mutex::new(vec![None; records.len()]));
        for (i, r) in records.iter().enumerate() {
            let mut headers = OwnedHeaders::new_with_capacity(r.headers.len());
            for (n, v) in &r.headers {
                headers = headers.insert(Header { key: n, value: Some(v) });
            }
            let mut rec: BaseRecord<'_, [u8], [u8], _> =
                BaseRecord::with_opaque_to(topic, Box::new((slots.clone(), i)))
                    .partition(partition as i32)
                    .payload(&r.value[..])
                    .headers(headers);
            if let Some(k) = &r.key {
                rec = rec.key(&k[..]);
            }
            let deadline = Instant::now() + self.config.timeout;
            loop {
                match self.producer.send(rec) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back))
                        if Instant::now() < deadline =>
                    {
                        self.producer.poll(Duration::from_millis(10));
                        rec = back;
                    }
                    Err((e, _)) => return Err(broker(e)),
                }
            }
        }
        let deadline = Instant::now() + self.config.timeout;
        Ok(PendingAppend::waiting(move || {
            let filled = |slots: &Slots| slots.lock().unwrap_or_else(|p| p.into_inner()).iter().all(Option::is_some);
            // Another thread's poll may serve these reports: the short
            // timeout bounds how long this one waits for that.
            while !filled(&slots) && Instant::now() < deadline {
                self.producer.poll(Duration::from_millis(5));
            }
            let slots = std::mem::take(&mut *slots.lock().unwrap_or_else(|p| p.into_inner()));
            slots
                .into_iter()
                .map(|s| match s {
                    Some(Ok(off)) => Ok(off as u64),
                    Some(Err(e)) => Err(broker(e)),
                    None => {
                        Err(Error::Broker { message: "no delivery report before the timeout".into(), retriable: true })
                    }
                })
                .collect()
        }))
    }

    fn read(&self, topic: &str, partition: u32, offset: u64, max: usize, wait: Duration) -> Result<Vec<Fetched>> {
        let reader = self.reader(topic, partition)?;
        let mut r = reader.lock().unwrap_or_else(|p| p.into_inner());
        if r.at.as_ref() != Some(&(topic.to_string(), partition, offset)) {
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition_offset(topic, partition as i32, Offset::Offset(offset as i64)).map_err(broker)?;
            r.consumer.assign(&tpl).map_err(broker)?;
            r.at = Some((topic.to_string(), partition, offset));
        }
        let deadline = Instant::now() + wait;
        let mut out: Vec<Fetched> = Vec::new();
        let mut bytes = 0;
        while out.len() < max && bytes < crate::READ_BYTES {
            let left = if out.is_empty() { deadline.saturating_duration_since(Instant::now()) } else { Duration::ZERO };
            match r.consumer.poll(left) {
                None => break,
                Some(Err(e)) => {
                    r.at = None;
                    return Err(broker(e));
                }
                Some(Ok(m)) => {
                    if m.topic() != topic || m.partition() != partition as i32 || (m.offset() as u64) < offset {
                        continue;
                    }
                    let headers = m
                        .headers()
                        .map(|h| h.iter().map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec())).collect())
                        .unwrap_or_default();
                    let record = Record {
                        key: m.key().map(<[u8]>::to_vec),
                        value: m.payload().unwrap_or_default().to_vec(),
                        headers,
                    };
                    bytes += record.size();
                    out.push(Fetched { partition, offset: m.offset() as u64, record });
                }
            }
            if out.is_empty() && Instant::now() >= deadline {
                break;
            }
        }
        if let Some(last) = out.last() {
            r.at = Some((topic.to_string(), partition, last.offset + 1));
        }
        Ok(out)
    }

    fn end_offset(&self, topic: &str, partition: u32) -> Result<u64> {
        let m = self.meta.lock().unwrap_or_else(|p| p.into_inner());
        let (_, high) = m.fetch_watermarks(topic, partition as i32, self.config.timeout).map_err(broker)?;
        Ok(high.max(0) as u64)
    }

    fn commit(&self, group: &str, topic: &str, partition: u32, next: u64) -> Result<()> {
        let c = self.group(group)?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, partition as i32, Offset::Offset(next as i64)).map_err(broker)?;
        c.commit(&tpl, CommitMode::Sync).map_err(broker)
    }

    fn committed(&self, group: &str, topic: &str, partition: u32) -> Result<Option<u64>> {
        let c = self.group(group)?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(topic, partition as i32);
        let got = c.committed_offsets(tpl, self.config.timeout).map_err(broker)?;
        Ok(got.find_partition(topic, partition as i32).and_then(|e| match e.offset() {
            Offset::Offset(n) if n >= 0 => Some(n as u64),
            _ => None,
        }))
    }
}
