#if Postgres
    import NostrCore

    /// How tag values and `d` addresses are kept in indexed text columns: `x:value` for a value
    /// of up to `maxInline` bytes of text, `x#<sha256 hex>` for a longer one or one PostgreSQL's
    /// text cannot hold (a NUL). The two forms cannot collide, so an equality on the key is an
    /// equality on the value; B-tree entries stay small.
    enum TagKey {
        static let maxInline = 256

        static func key(_ name: UInt8, _ value: UnsafeBufferPointer<UInt8>) -> String {
            var out: [UInt8] = [name]
            append(value, to: &out)
            return String(decoding: out, as: UTF8.self)
        }

        static func key(_ name: UInt8, _ value: String) -> String {
            var value = value
            return value.withUTF8 { key(name, $0) }
        }

        /// The key of an address's `d` (no tag name).
        static func address(_ d: String) -> String {
            var d = d
            return d.withUTF8 { bytes in
                var out: [UInt8] = []
                append(bytes, to: &out)
                return String(decoding: out, as: UTF8.self)
            }
        }

        private static func append(_ value: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
            if value.count <= maxInline && !value.contains(0) && String(validating: value, as: UTF8.self) != nil {
                out.append(UInt8(ascii: ":"))
                out.append(contentsOf: value)
            } else {
                out.append(UInt8(ascii: "#"))
                out.append(contentsOf: EventID.sha256(UnsafeRawBufferPointer(value)).hex.utf8)
            }
        }
    }
#endif
