//! Split raw images: the image written as parts of one size (the last may be shorter),
//! each a new file, so that it fits on media with a file size limit (FAT32's 4 GiB) or in
//! an archive's slots. The image is the parts concatenated.

use std::fs::File;
use std::io::{self, Write};

/// Makes part `index` (0-based) as a new, empty file.
pub type CreatePart<'a> = Box<dyn FnMut(u32) -> io::Result<File> + 'a>;

/// Writes a stream into parts of `part_size` bytes.
pub struct SplitWriter<'a> {
    part_size: u64,
    create_part: CreatePart<'a>,
    current: Option<File>,
    in_part: u64,
    parts: u32,
}

impl std::fmt::Debug for SplitWriter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SplitWriter").field("part_size", &self.part_size).field("parts", &self.parts).finish()
    }
}

impl<'a> SplitWriter<'a> {
    /// A writer of parts of `part_size` bytes (at least 1), each made by `create_part`.
    pub fn new(part_size: u64, create_part: CreatePart<'a>) -> io::Result<SplitWriter<'a>> {
        if part_size == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "a part must hold at least one byte"));
        }
        Ok(SplitWriter { part_size, create_part, current: None, in_part: 0, parts: 0 })
    }

    /// Flushes the last part and returns how many parts were made: at least one, so that
    /// an empty image is one empty part rather than nothing.
    pub fn finish(mut self) -> io::Result<u32> {
        if self.parts == 0 {
            self.next_part()?;
        }
        if let Some(file) = self.current.as_mut() {
            file.flush()?;
        }
        Ok(self.parts)
    }

    fn next_part(&mut self) -> io::Result<()> {
        self.current = Some((self.create_part)(self.parts)?);
        self.parts += 1;
        self.in_part = 0;
        Ok(())
    }
}

impl Write for SplitWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.current.is_none() || self.in_part == self.part_size {
            self.next_part()?;
        }
        let room = (self.part_size - self.in_part).min(buf.len() as u64) as usize;
        let file = self.current.as_mut().ok_or_else(|| io::Error::other("no part is open"))?;
        let n = file.write(&buf[..room])?;
        self.in_part += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.current.as_mut().map_or(Ok(()), Write::flush)
    }
}

/// The name of part `index` (0-based) of image `name`: `NAME.001`, `NAME.002`, …
/// (`NAME.1000` after `NAME.999`), as FTK Imager and `split -d` users expect.
pub fn part_name(name: &str, index: u32) -> String {
    format!("{name}.{:03}", u64::from(index) + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_have_the_size_asked_except_the_last() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let root = dir.path().to_owned();
        let create = Box::new(|index: u32| File::create_new(root.join(part_name("img", index))));
        let mut writer = SplitWriter::new(1000, create).expect("writer");
        let bytes: Vec<u8> = (0..2500u32).map(|i| (i % 251) as u8).collect();
        // Writes that straddle part boundaries.
        for chunk in bytes.chunks(333) {
            writer.write_all(chunk).expect("write");
        }
        assert_eq!(writer.finish().expect("finish"), 3);
        let sizes: Vec<u64> = (0..3)
            .map(|i| std::fs::metadata(dir.path().join(part_name("img", i))).expect("part").len())
            .collect();
        assert_eq!(sizes, [1000, 1000, 500]);
        let joined: Vec<u8> =
            (0..3).flat_map(|i| std::fs::read(dir.path().join(part_name("img", i))).expect("part")).collect();
        assert_eq!(joined, bytes);
        assert!(!dir.path().join("img.004").exists());
    }

    #[test]
    fn an_exact_multiple_makes_no_empty_last_part_and_an_empty_image_one_part() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let root = dir.path().to_owned();
        let create = Box::new(|index: u32| File::create_new(root.join(part_name("a", index))));
        let mut writer = SplitWriter::new(10, create).expect("writer");
        writer.write_all(&[7u8; 20]).expect("write");
        assert_eq!(writer.finish().expect("finish"), 2);
        let root = dir.path().to_owned();
        let create = Box::new(|index: u32| File::create_new(root.join(part_name("empty", index))));
        assert_eq!(SplitWriter::new(10, create).expect("writer").finish().expect("finish"), 1);
        assert_eq!(std::fs::metadata(dir.path().join("empty.001")).expect("part").len(), 0);
        assert_eq!(part_name("x", 998), "x.999");
        assert_eq!(part_name("x", 999), "x.1000");
    }
}
