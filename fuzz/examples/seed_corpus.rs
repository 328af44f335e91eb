//! Writes the `decode` target's seeds (`framechat_fuzz::seeds`) into the folder given as the only
//! argument; `seed-corpus.sh` runs it. Prints how many it wrote.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(
        std::env::args_os()
            .nth(1)
            .expect("usage: seed_corpus <folder>"),
    );
    std::fs::create_dir_all(&dir)?;
    let seeds = framechat_fuzz::seeds::decode_seeds();
    for (name, input) in &seeds {
        std::fs::write(dir.join(name), input)?;
    }
    println!("{} encoder seeds in {}", seeds.len(), dir.display());
    Ok(())
}
