//! `Content-Encoding: gzip` for `/metrics`, as client_golang's promhttp gives it when the scraper sends
//! `Accept-Encoding: gzip` (Prometheus always does). The exposition is made of shared parts (per reading, per
//! second); each part is compressed once, as raw DEFLATE ending with a sync flush (so it ends on a byte boundary
//! without a final block), and a response is one gzip member (RFC 1952) put together without copying: header,
//! the parts' DEFLATE bytes, an empty final block, and the trailer (CRC-32 of the parts combined, length). A
//! DEFLATE stream may be cut into such pieces (RFC 1951: blocks are independent of how the input was fed; each
//! part's back-references stay inside it), so 100 gzip scrapers share one compressed copy, as they share the text.
//! Each part is compressed by an encoder of its own, so it inflates alone too ([`Inflate`]): a scraper without
//! gzip is served the per-reading parts inflated a chunk at a time from the compressed copy, so the megabytes of
//! per-reading text are not kept whole for it (issue 22: the plain-text scrapers' peak RSS).

use std::io::Write;

/// The 10-byte gzip header: magic, DEFLATE, no flags, no mtime, no extra flags, OS unknown.
pub const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
/// An empty final block with fixed Huffman codes (BFINAL=1, BTYPE=01, end-of-block), ending the DEFLATE stream.
pub const FINAL_BLOCK: [u8; 2] = [0x03, 0x00];

/// One part of the exposition, compressed.
#[derive(Debug)]
pub struct Deflated {
    /// Raw DEFLATE, no final block, ending on a byte boundary.
    pub data: Vec<u8>,
    crc: flate2::Crc,
    /// Length of the text.
    len: usize,
}

impl Deflated {
    /// Compresses `text` at the fastest level (as promhttp's `gzip.BestSpeed`): the exposition is repetitive
    /// enough that level 1 gets it to about a tenth (see docs/how-it-works.md, Performance).
    pub fn of(text: &[u8]) -> Deflated {
        let mut crc = flate2::Crc::new();
        crc.update(text);
        let mut enc = flate2::write::DeflateEncoder::new(
            Vec::with_capacity(text.len() / 8),
            flate2::Compression::fast(),
        );
        // Writing to a Vec cannot fail; `flush` is a sync flush: every byte out, no final block.
        let data = match enc.write_all(text).and_then(|()| enc.flush()) {
            Ok(()) => std::mem::take(enc.get_mut()),
            Err(e) => {
                tracing::error!(error = %e, "compressing the exposition failed");
                Vec::new()
            }
        };
        Deflated {
            data,
            crc,
            len: text.len(),
        }
    }

    /// Length of the text it inflates to.
    pub fn text_len(&self) -> usize {
        self.len
    }
}

/// The text of one [`Deflated`] part, inflated a chunk at a time: what a response body without gzip holds is the
/// shared compressed part, a position in it, and (while the part is being read) a raw inflater (its 32 KiB
/// window), not the text.
pub struct Inflate {
    part: std::sync::Arc<Deflated>,
    inflater: Option<Box<flate2::Decompress>>,
    /// Text bytes handed out so far.
    out: usize,
}

impl Inflate {
    /// The text of `part`, from its start; the inflater is made at the first chunk.
    pub fn new(part: std::sync::Arc<Deflated>) -> Inflate {
        Inflate {
            part,
            inflater: None,
            out: 0,
        }
    }

    /// Text bytes not handed out yet.
    pub fn remaining(&self) -> usize {
        self.part.len.saturating_sub(self.out)
    }

    /// The next at most `max` bytes of the text, `None` once it is all out. Inflating `max` bytes is the work
    /// of one call (a few hundred microseconds for 64 KiB), so a body may call it inside a poll. A part that does
    /// not inflate to its text (a bug: it was compressed here) ends early, logged: the response is cut short.
    pub fn next_chunk(&mut self, max: usize) -> Option<Vec<u8>> {
        let want = self.remaining().min(max);
        if want == 0 {
            self.inflater = None;
            return None;
        }
        let d = self
            .inflater
            .get_or_insert_with(|| Box::new(flate2::Decompress::new(false)));
        let mut chunk = vec![0; want];
        let mut filled = 0;
        while filled < want {
            let (before_in, before_out) = (d.total_in(), d.total_out());
            // `total_in` never exceeds the input given, so the slice is in range; a stalled inflater is the error.
            let input = self
                .part
                .data
                .get(usize::try_from(before_in).unwrap_or(usize::MAX)..)
                .unwrap_or_default();
            let status = d.decompress(input, &mut chunk[filled..], flate2::FlushDecompress::None);
            filled += usize::try_from(d.total_out() - before_out).unwrap_or(0);
            if status.is_err() || (d.total_in() == before_in && d.total_out() == before_out) {
                tracing::error!(
                    text_len = self.part.len,
                    inflated = self.out + filled,
                    "inflating a compressed part of the exposition failed"
                );
                self.out = self.part.len;
                self.inflater = None;
                chunk.truncate(filled);
                return (!chunk.is_empty()).then_some(chunk);
            }
        }
        self.out += filled;
        if self.remaining() == 0 {
            self.inflater = None;
        }
        Some(chunk)
    }
}

/// The gzip trailer of `parts` sent in order: CRC-32 of their texts, then their total length modulo 2^32.
pub fn trailer<'a>(parts: impl IntoIterator<Item = &'a Deflated>) -> [u8; 8] {
    let mut crc = flate2::Crc::new();
    for p in parts {
        crc.combine(&p.crc);
    }
    let mut out = [0; 8];
    out[..4].copy_from_slice(&crc.sum().to_le_bytes());
    out[4..].copy_from_slice(&crc.amount().to_le_bytes());
    out
}

/// Whether an `Accept-Encoding` header asks for gzip: a `gzip` (or `x-gzip`) coding without `q=0`. `*` is not
/// taken as gzip (a client that names no coding gets the text, as from promhttp).
pub fn accepted(header: Option<&str>) -> bool {
    header.is_some_and(|h| {
        h.split(',').any(|part| {
            let mut params = part.split(';').map(str::trim);
            let coding = params.next().unwrap_or_default();
            (coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip"))
                && !params.any(|p| {
                    // RFC 9110 12.4.2: the weight's name is case-insensitive (`Q=0`); spaces around `=` tolerated.
                    p.split_once('=').is_some_and(|(name, q)| {
                        name.trim().eq_ignore_ascii_case("q")
                            && q.trim().parse::<f64>().is_ok_and(|q| q <= 0.0)
                    })
                })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn parts_compressed_apart_make_one_gzip_member() {
        let parts = [
            "# HELP a x\n".repeat(1000),
            String::new(),
            "b 1\n# EOF\n".to_owned(),
        ];
        let deflated: Vec<Deflated> = parts.iter().map(|p| Deflated::of(p.as_bytes())).collect();
        let mut gz = HEADER.to_vec();
        for d in &deflated {
            gz.extend_from_slice(&d.data);
        }
        gz.extend_from_slice(&FINAL_BLOCK);
        gz.extend_from_slice(&trailer(&deflated));
        // A single-member decoder: it checks the CRC and length, and stops at the member's end.
        let mut out = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, parts.concat());
        assert!(gz.len() < parts.concat().len() / 10);
    }

    /// Each part inflates alone, in chunks of any size, to its text byte for byte (a plain scraper's body).
    #[test]
    fn each_part_inflates_alone_in_chunks() {
        let texts = [
            String::new(),
            "x".to_owned(),
            "crowdsec_bouncer_info{bouncer=\"a\\\"b\\n\"} 1\n".repeat(5000),
            (0..200_000u32)
                .map(|i| char::from(b'a' + (i * 7919 % 26) as u8))
                .collect(),
        ];
        for text in &texts {
            let part = std::sync::Arc::new(Deflated::of(text.as_bytes()));
            assert_eq!(part.text_len(), text.len());
            for max in [1, 7, 4096, 65536, usize::MAX] {
                let mut inflate = Inflate::new(part.clone());
                let mut out = Vec::new();
                while let Some(chunk) = inflate.next_chunk(max) {
                    assert!(!chunk.is_empty() && chunk.len() <= max);
                    out.extend_from_slice(&chunk);
                }
                assert_eq!(out, text.as_bytes());
                assert_eq!(inflate.remaining(), 0);
                assert!(inflate.inflater.is_none(), "the window is freed at the end");
            }
        }
    }

    /// A part that does not inflate (it cannot happen: it was compressed here) ends, it does not loop.
    #[test]
    fn a_broken_part_ends_early() {
        let mut part = Deflated::of("y".repeat(100_000).as_bytes());
        part.data.truncate(part.data.len() / 2);
        let mut inflate = Inflate::new(std::sync::Arc::new(part));
        let mut n = 0;
        while let Some(c) = inflate.next_chunk(4096) {
            n += c.len();
        }
        assert!(n < 100_000);
        let mut garbage = Deflated::of(b"z");
        garbage.data = vec![0xff; 64];
        let mut inflate = Inflate::new(std::sync::Arc::new(garbage));
        assert!(inflate.next_chunk(4096).is_none_or(|c| c.len() <= 1));
        assert!(inflate.next_chunk(4096).is_none());
    }

    #[test]
    fn accept_encoding_as_prometheus_and_curl_send_it() {
        assert!(accepted(Some("gzip")));
        assert!(accepted(Some("deflate, gzip;q=1.0, *;q=0.5")));
        assert!(accepted(Some("br, GZIP")));
        assert!(!accepted(Some("gzip;q=0")));
        // A tester's: the weight's name in capitals and spaces around `=` were served gzip.
        assert!(!accepted(Some("gzip;Q=0")));
        assert!(!accepted(Some("gzip; q = 0")));
        assert!(accepted(Some("gzip; Q=0.5")));
        assert!(!accepted(Some("identity")));
        assert!(!accepted(Some("*")));
        assert!(!accepted(None));
    }
}
