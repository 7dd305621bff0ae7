//! Protocol-buffer encoding of the `Event` fields TensorBoard reads (field numbers from
//! tensorboard/compat/proto/event.proto and summary.proto).

/// Appends `value` as a base-128 varint.
fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn key(out: &mut Vec<u8>, field: u32, wire_type: u8) {
    varint(out, (u64::from(field) << 3) | u64::from(wire_type));
}

fn bytes_field(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    key(out, field, 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn varint_field(out: &mut Vec<u8>, field: u32, value: u64) {
    key(out, field, 0);
    varint(out, value);
}

/// What one event carries besides its time and step.
pub enum Payload<'a> {
    /// `file_version`, the first event of every file.
    FileVersion(&'a str),
    /// `Summary` of scalars: `(tag, simple_value)`.
    Scalars(&'a [(String, f32)]),
    /// `Summary` of one PNG image.
    Image {
        tag: &'a str,
        png: &'a [u8],
        width: u32,
        height: u32,
    },
    /// `SessionLog { status: START }`: steps at and after this event's are replaced.
    SessionStart,
}

/// A serialized `Event { wall_time = 1, step = 2, file_version = 3 | summary = 5 |
/// session_log = 6 }`.
pub fn event(wall_time: f64, step: i64, payload: &Payload<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    key(&mut out, 1, 1);
    out.extend_from_slice(&wall_time.to_le_bytes());
    varint_field(&mut out, 2, step as u64);
    match payload {
        Payload::FileVersion(version) => bytes_field(&mut out, 3, version.as_bytes()),
        Payload::Scalars(values) => {
            let mut summary = Vec::new();
            for (tag, value) in values.iter() {
                // Summary.Value { tag = 1, simple_value = 2 }
                let mut v = Vec::new();
                bytes_field(&mut v, 1, tag.as_bytes());
                key(&mut v, 2, 5);
                v.extend_from_slice(&value.to_le_bytes());
                bytes_field(&mut summary, 1, &v);
            }
            bytes_field(&mut out, 5, &summary);
        }
        Payload::Image {
            tag,
            png,
            width,
            height,
        } => {
            // Summary.Image { height = 1, width = 2, colorspace = 3, encoded_image_string = 4 }
            let mut image = Vec::new();
            varint_field(&mut image, 1, u64::from(*height));
            varint_field(&mut image, 2, u64::from(*width));
            varint_field(&mut image, 3, 3);
            bytes_field(&mut image, 4, png);
            // Summary.Value { tag = 1, image = 4 }
            let mut v = Vec::new();
            bytes_field(&mut v, 1, tag.as_bytes());
            bytes_field(&mut v, 4, &image);
            let mut summary = Vec::new();
            bytes_field(&mut summary, 1, &v);
            bytes_field(&mut out, 5, &summary);
        }
        Payload::SessionStart => {
            // SessionLog { status = 1 } with START = 1.
            let mut log = Vec::new();
            varint_field(&mut log, 1, 1);
            bytes_field(&mut out, 6, &log);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_match_the_protobuf_examples() {
        let mut out = Vec::new();
        varint(&mut out, 1);
        varint(&mut out, 150);
        varint(&mut out, 300);
        assert_eq!(out, [0x01, 0x96, 0x01, 0xac, 0x02]);
    }

    #[test]
    fn a_file_version_event_is_laid_out_field_by_field() {
        let bytes = event(1.5, 7, &Payload::FileVersion("brain.Event:2"));
        let mut expected = vec![0x09];
        expected.extend_from_slice(&1.5f64.to_le_bytes());
        expected.extend_from_slice(&[0x10, 7, 0x1a, 13]);
        expected.extend_from_slice(b"brain.Event:2");
        assert_eq!(bytes, expected);
    }

    #[test]
    fn a_scalar_is_a_summary_value_with_a_fixed32_float() {
        let bytes = event(0.0, 1, &Payload::Scalars(&[("g".into(), 2.0)]));
        // ... summary (field 5) { value (field 1) { tag "g", simple_value 2.0 } }
        let tail = [0x2a, 10, 0x0a, 8, 0x0a, 1, b'g', 0x15, 0, 0, 0, 0x40];
        assert_eq!(bytes[bytes.len() - tail.len()..], tail);
    }
}
