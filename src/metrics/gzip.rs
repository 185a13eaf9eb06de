//! `Content-Encoding: gzip` for `/metrics`, as client_golang's promhttp gives it when the scraper sends
//! `Accept-Encoding: gzip` (Prometheus always does). The exposition is made of shared parts (per reading, per
//! second); each part is compressed once, as raw DEFLATE ending with a sync flush (so it ends on a byte boundary
//! without a final block), and a response is one gzip member (RFC 1952) put together without copying: header,
//! the parts' DEFLATE bytes, an empty final block, and the trailer (CRC-32 of the parts combined, length). A
//! DEFLATE stream may be cut into such pieces (RFC 1951: blocks are independent of how the input was fed; each
//! part's back-references stay inside it), so 100 gzip scrapers share one compressed copy, as they share the text.

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
        Deflated { data, crc }
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
                    p.strip_prefix("q=")
                        .is_some_and(|q| q.trim().parse::<f64>().is_ok_and(|q| q <= 0.0))
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

    #[test]
    fn accept_encoding_as_prometheus_and_curl_send_it() {
        assert!(accepted(Some("gzip")));
        assert!(accepted(Some("deflate, gzip;q=1.0, *;q=0.5")));
        assert!(accepted(Some("br, GZIP")));
        assert!(!accepted(Some("gzip;q=0")));
        assert!(!accepted(Some("identity")));
        assert!(!accepted(Some("*")));
        assert!(!accepted(None));
    }
}
