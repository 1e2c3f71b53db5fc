//! Why a statement was not made or cannot be read.

#[derive(Debug, thiserror::Error)]
pub enum StatementError {
    #[error(transparent)]
    Store(#[from] sqlx::Error),
    #[error("the statement's file cannot be written or read: {0}")]
    File(#[from] std::io::Error),
    #[error("the statement's PDF was not made: {0}")]
    Render(String),
    /// Its file is not the one recorded (changed or damaged since): never served.
    #[error("the statement's file has changed since it was made")]
    Damaged,
}
