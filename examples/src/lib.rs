//! Example programs for t0 live beside this file (`cargo run -p t0-examples --example NAME`).
