//! Placeholder: filled in by the neural-network work.
