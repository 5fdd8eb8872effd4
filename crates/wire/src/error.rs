//! The error both Avro codecs give for a value that does not fit our types.

/// A value that does not fit the schema, with the path of the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{path}`: {reason}")]
pub struct DecodeError {
    /// Dotted path of the field (`event.tools[1].status`).
    pub path: String,
    /// What is wrong.
    pub reason: String,
}
