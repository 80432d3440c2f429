//! Rebuilds the library when a migration changes: `embed_migrations!`
//! reads the SQL files when it expands, and cargo does not track them on
//! its own (diesel_migrations' documentation asks for this line).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
