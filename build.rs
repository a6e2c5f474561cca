// `sqlx::migrate!` embeds the migration files at compile time; a new file
// must rebuild the crate, which cargo does not notice on its own.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
