//! `GET /v1/streams/{stream}`: a tenant's messages of a projection stream
//! (docs/streams.md) over HTTP — for deployments on the embedded log, which
//! speaks no Kafka protocol, and for consumers that should see one tenant
//! only (a Kafka consumer of `projections.*` sees every tenant).

use super::prelude::*;
use traceledger_wire::projections::{self as streams, Stream};

/// Messages of one read: (offset, Avro datum without its framing) each,
/// and the offset to read next.
pub type StreamRead = (Vec<(u64, Vec<u8>)>, u64);

/// Reads projection streams from the log they are published to.
pub trait StreamSource: Send + Sync {
    /// `tenant`'s messages of `stream` at or after `from` (an offset in the
    /// tenant's partition of the stream's topic), at most `limit`. It
    /// returns at once, with what is there.
    fn read(&self, stream: Stream, tenant: &str, from: u64, limit: usize) -> Result<StreamRead, String>;
}

/// Which messages.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StreamQuery {
    /// 1..=1000, default 100
    #[param(value_type = Option<usize>, minimum = 1, maximum = 1000)]
    limit: Option<Limit>,
    /// next_cursor of the previous page (there is always one: poll it for more)
    #[param(value_type = Option<String>)]
    cursor: Option<Cursor>,
}

fn decoded(stream: Stream, datum: &[u8]) -> Result<Value, String> {
    fn json<T: serde::Serialize>(m: T) -> Result<Value, String> {
        serde_json::to_value(m).map_err(|e| e.to_string())
    }
    let e = |e: streams::StreamError| e.to_string();
    match stream {
        Stream::Sessions => json(streams::decode::<streams::SessionSummaryMessage>(stream, datum).map_err(e)?),
        Stream::Pii => json(streams::decode::<streams::PiiFindingsMessage>(stream, datum).map_err(e)?),
        Stream::Anomalies => json(streams::decode::<streams::AnomalyMessage>(stream, datum).map_err(e)?),
        Stream::Availability => json(streams::decode::<streams::AvailabilityMinuteMessage>(stream, datum).map_err(e)?),
    }
}

#[utoipa::path(get, path = "/v1/streams/{stream}", tag = "streams", security(("api_key" = [])),
    params(("stream" = String, Path, description = "sessions, pii, anomalies or availability"), StreamQuery),
    responses((status = 200, description = "The key's tenant's messages of the stream in order (the Avro messages of docs/streams.md as JSON), each with its offset, and the cursor to poll next", body = bodies::StreamPage),
        BadRequest, NotFound, Errors))]
pub(crate) async fn read_stream(
    State(s): State<Shared>,
    p: Principal,
    Path(name): Path<String>,
    Q(q): Q<StreamQuery>,
) -> Result<Json<bodies::StreamPage>, AppError> {
    p.require(Permission::Read)?;
    let names: Vec<(&str, Stream)> =
        streams::STREAMS.iter().map(|s| (s.topic().trim_start_matches("projections."), *s)).collect();
    let stream = names.iter().find(|(n, _)| *n == name).map(|(_, s)| *s).ok_or_else(|| {
        AppError::not_found(format!("no stream `{name}` (there are: sessions, pii, anomalies, availability)"))
    })?;
    let Some(source) = s.streams.clone() else {
        return Err(AppError::unavailable(
            "Streams not published",
            "this node does not publish the projection streams (start it with --publish-projections)",
        ));
    };
    let from = match &q.cursor {
        None => 0,
        Some(c) => c.position(|c| c.parse::<u64>().ok())?,
    };
    let limit = page(q.limit);
    let tenant = p.tenant().to_string();
    blocking(move || {
        let (found, next) = source.read(stream, &tenant, from, limit).map_err(AppError::internal)?;
        let mut items = Vec::with_capacity(found.len());
        for (offset, datum) in found {
            let message = decoded(stream, &datum).map_err(AppError::internal)?;
            items.push(bodies::StreamItem { offset, message });
        }
        Ok(Json(bodies::StreamPage { items, next_cursor: encode_cursor(&next.to_string()) }))
    })
    .await
}
