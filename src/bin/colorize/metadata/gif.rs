//! GIF: only its frames are counted (an animated GIF is refused); it carries no metadata
//! the output keeps.

/// Counts the image descriptors of a GIF.
pub(super) fn gif_frames(b: &[u8]) -> u32 {
    let skip_blocks = |mut at: usize| -> Option<usize> {
        loop {
            let size = usize::from(*b.get(at)?);
            at += 1 + size;
            if size == 0 {
                return Some(at);
            }
        }
    };
    let count = || -> Option<u32> {
        let mut at = 13;
        let flags = *b.get(10)?;
        if flags & 0x80 != 0 {
            at += 3 << ((flags & 7) + 1);
        }
        let mut frames = 0;
        loop {
            match *b.get(at)? {
                0x21 => at = skip_blocks(at + 2)?,
                0x2C => {
                    frames += 1;
                    let flags = *b.get(at + 9)?;
                    at += 10;
                    if flags & 0x80 != 0 {
                        at += 3 << ((flags & 7) + 1);
                    }
                    at = skip_blocks(at + 1)?;
                }
                _ => return Some(frames),
            }
        }
    };
    count().unwrap_or(1).max(1)
}
