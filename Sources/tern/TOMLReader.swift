/// Reads the part of TOML (v1.0) that tern's configuration file uses: `[section]` tables
/// (a dotted name such as `[kind.1]` is one section named "kind.1") holding `key = value` pairs
/// whose values are strings (basic and literal), integers, booleans, and arrays of strings and
/// integers (which may span lines, with comments and a trailing comma), with comments and blank
/// lines. Anything else that TOML allows (inline tables, arrays of tables, floats, dates,
/// multi-line strings, dotted keys) is refused with the line it is on, as is anything TOML
/// itself forbids (a key set twice, a table opened twice, a key outside a table).
///
/// tern has its own reader instead of a TOML library because the libraries available pull in
/// all of Foundation and a C++ runtime, which tripled the size of the static binary.
struct TOMLReader {
    enum Value: Equatable {
        case string(String)
        case integer(Int)
        case boolean(Bool)
        case array([Value])

        /// The value as a setting takes it: an array as its items joined by commas.
        var text: String {
            switch self {
            case .string(let s): s
            case .integer(let i): String(i)
            case .boolean(let b): b ? "true" : "false"
            case .array(let items): items.map(\.text).joined(separator: ",")
            }
        }
    }

    struct Entry: Equatable {
        let section: String
        let key: String
        let value: Value
        let line: Int
    }

    struct Failure: Error, Equatable, CustomStringConvertible {
        let line: Int
        let reason: String
        var description: String { "line \(line): \(reason)" }
    }

    /// Every `section.key = value` of `text`, in file order.
    static func read(_ text: String) throws(Failure) -> [Entry] {
        var entries: [Entry] = []
        var section: String?
        var sections: Set<String> = []
        var keys: Set<String> = []
        var line = Line(bytes: Array(text.utf8), number: 1)
        while line.peek != nil {
            line.skipSpace()
            if line.atEndOrComment {
                line.endLine()
                continue
            }
            if line.peek == UInt8(ascii: "[") {
                let name = try line.tableHeader()
                guard sections.insert(name).inserted else { throw line.fail("table [\(name)] is defined twice") }
                section = name
                line.endLine()
                continue
            }
            let key = try line.key()
            line.skipSpace()
            guard line.consume(UInt8(ascii: "=")) else {
                if line.peek == UInt8(ascii: ".") {
                    throw line.fail("dotted keys are not supported; use a [section] table")
                }
                throw line.fail("expected = after the key \(key)")
            }
            line.skipSpace()
            let number = line.number
            let value = try line.value()
            line.skipSpace()
            guard line.atEndOrComment else { throw line.fail("unexpected text after the value of \(key)") }
            guard let section else { throw Failure(line: number, reason: "\(key) is outside a [section] table") }
            guard keys.insert("\(section).\(key)").inserted else {
                throw Failure(line: number, reason: "\(section).\(key) is set twice")
            }
            entries.append(Entry(section: section, key: key, value: value, line: number))
            line.endLine()
        }
        return entries
    }

    /// The file and a read position in it, with the number of the line it is on.
    private struct Line {
        var bytes: [UInt8]
        var number: Int
        var position = 0

        init(bytes: [UInt8], number: Int) {
            self.bytes = bytes
            self.number = number
        }

        var peek: UInt8? { position < bytes.count ? bytes[position] : nil }
        /// At the end of the line (or file), or at a comment.
        var atEndOrComment: Bool {
            peek == nil || peek == UInt8(ascii: "#") || peek == UInt8(ascii: "\n") || peek == UInt8(ascii: "\r")
        }

        /// Skips the rest of the line (a comment) and its newline.
        mutating func endLine() {
            while let c = peek, c != UInt8(ascii: "\n") { position += 1 }
            if consume(UInt8(ascii: "\n")) { number += 1 }
        }

        /// Inside an array: spaces, newlines and comments.
        mutating func skipArraySpace() {
            while true {
                skipSpace()
                if peek == UInt8(ascii: "#") || peek == UInt8(ascii: "\r") || peek == UInt8(ascii: "\n") {
                    endLine()
                } else {
                    return
                }
            }
        }

        func fail(_ reason: String) -> Failure { Failure(line: number, reason: reason) }

        mutating func consume(_ byte: UInt8) -> Bool {
            guard peek == byte else { return false }
            position += 1
            return true
        }

        mutating func skipSpace() {
            while let c = peek, c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") { position += 1 }
        }

        static func isBare(_ c: UInt8) -> Bool {
            (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
                || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "_")
                || c == UInt8(ascii: "-")
        }

        /// `[name]` with optional spaces inside the brackets, then only a comment.
        mutating func tableHeader() throws(Failure) -> String {
            position += 1
            if peek == UInt8(ascii: "[") { throw fail("arrays of tables ([[...]]) are not supported") }
            skipSpace()
            var name = try key()
            skipSpace()
            while consume(UInt8(ascii: ".")) {
                skipSpace()
                name += "." + (try key())
                skipSpace()
            }
            guard consume(UInt8(ascii: "]")) else { throw fail("expected ] to close the table name") }
            skipSpace()
            guard atEndOrComment else { throw fail("unexpected text after [\(name)]") }
            return name
        }

        /// A bare key (letters, digits, `_`, `-`) or a quoted one.
        mutating func key() throws(Failure) -> String {
            switch peek {
            case UInt8(ascii: "\"")?:
                return try basicString()
            case UInt8(ascii: "'")?:
                return try literalString()
            case let c? where Self.isBare(c):
                let start = position
                while let c = peek, Self.isBare(c) { position += 1 }
                return String(decoding: bytes[start..<position], as: UTF8.self)
            default:
                throw fail("expected a key or a [section]")
            }
        }

        mutating func value() throws(Failure) -> Value {
            guard let first = peek else { throw fail("missing value after =") }
            switch first {
            case UInt8(ascii: "\""):
                return .string(try basicString())
            case UInt8(ascii: "'"):
                return .string(try literalString())
            case UInt8(ascii: "t"), UInt8(ascii: "f"):
                if word("true") { return .boolean(true) }
                if word("false") { return .boolean(false) }
                throw fail("expected a string, integer or boolean")
            case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                return .integer(try integer())
            case UInt8(ascii: "["):
                return try array()
            case UInt8(ascii: "{"):
                throw fail(
                    "inline tables are not supported; tern's settings are strings, integers, booleans and arrays")
            default:
                throw fail("expected a string, integer or boolean")
            }
        }

        /// `[item, item, ...]` of strings and integers, over as many lines as it takes.
        private mutating func array() throws(Failure) -> Value {
            position += 1
            var items: [Value] = []
            while true {
                skipArraySpace()
                if consume(UInt8(ascii: "]")) { return .array(items) }
                guard peek != nil else { throw fail("unterminated array") }
                let item = try value()
                switch item {
                case .string, .integer: items.append(item)
                case .boolean, .array: throw fail("arrays hold strings or integers only")
                }
                skipArraySpace()
                if consume(UInt8(ascii: "]")) { return .array(items) }
                guard peek != nil else { throw fail("unterminated array") }
                guard consume(UInt8(ascii: ",")) else { throw fail("expected , or ] in an array") }
            }
        }

        private mutating func word(_ w: StaticString) -> Bool {
            let n = w.utf8CodeUnitCount
            guard position + n <= bytes.count else { return false }
            let matches = w.withUTF8Buffer { bytes[position..<(position + n)].elementsEqual($0) }
            guard matches else { return false }
            let after = position + n
            if after < bytes.count && Self.isBare(bytes[after]) { return false }
            position = after
            return true
        }

        /// Decimal with optional sign, or 0x / 0o / 0b; `_` only between digits (TOML 1.0).
        private mutating func integer() throws(Failure) -> Int {
            let start = position
            var negative = false
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") {
                negative = peek == UInt8(ascii: "-")
                position += 1
            }
            var radix = 10
            if peek == UInt8(ascii: "0"), position + 1 < bytes.count, position == start {
                switch bytes[position + 1] {
                case UInt8(ascii: "x"): radix = 16
                case UInt8(ascii: "o"): radix = 8
                case UInt8(ascii: "b"): radix = 2
                default: break
                }
                if radix != 10 { position += 2 }
            }
            var digits: [UInt8] = []
            var previousWasDigit = false
            while let c = peek, Self.isBare(c) || c == UInt8(ascii: ".") || c == UInt8(ascii: ":") {
                if c == UInt8(ascii: "-") {
                    throw fail("malformed number")
                } else if c == UInt8(ascii: "_") {
                    guard previousWasDigit else { throw fail("misplaced _ in a number") }
                    previousWasDigit = false
                } else if c == UInt8(ascii: ".") || c == UInt8(ascii: ":") || c == UInt8(ascii: "e")
                    || c == UInt8(ascii: "E"), radix == 10
                {
                    throw fail("floats and dates are not supported; tern's settings are strings, integers and booleans")
                } else {
                    digits.append(c)
                    previousWasDigit = true
                }
                position += 1
            }
            guard previousWasDigit else { throw fail("malformed number") }
            if radix == 10 && digits.count > 1 && digits[0] == UInt8(ascii: "0") {
                throw fail("leading zeros are not allowed in a number")
            }
            guard var magnitude = Int(String(decoding: digits, as: UTF8.self), radix: radix) else {
                throw fail("malformed or out-of-range number")
            }
            if negative { magnitude = -magnitude }
            return magnitude
        }

        /// `'...'`: no escapes.
        private mutating func literalString() throws(Failure) -> String {
            if bytes[position...].starts(with: [UInt8(ascii: "'"), UInt8(ascii: "'"), UInt8(ascii: "'")]) {
                throw fail("multi-line strings are not supported")
            }
            position += 1
            let start = position
            while let c = peek, c != UInt8(ascii: "'"), c != UInt8(ascii: "\n") { position += 1 }
            guard peek == UInt8(ascii: "'") else { throw fail("unterminated string") }
            defer { position += 1 }
            return try text(bytes[start..<position])
        }

        /// `"..."` with TOML's escapes.
        private mutating func basicString() throws(Failure) -> String {
            if bytes[position...].starts(with: [UInt8(ascii: "\""), UInt8(ascii: "\""), UInt8(ascii: "\"")]) {
                throw fail("multi-line strings are not supported")
            }
            position += 1
            var out: [UInt8] = []
            while true {
                guard let c = peek, c != UInt8(ascii: "\n") else { throw fail("unterminated string") }
                position += 1
                switch c {
                case UInt8(ascii: "\""):
                    return try text(out[...])
                case UInt8(ascii: "\\"):
                    guard let e = peek else { throw fail("unterminated string") }
                    position += 1
                    switch e {
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "\""): out.append(0x22)
                    case UInt8(ascii: "\\"): out.append(0x5C)
                    case UInt8(ascii: "u"), UInt8(ascii: "U"):
                        let count = e == UInt8(ascii: "u") ? 4 : 8
                        guard position + count <= bytes.count,
                            let code = UInt32(
                                String(decoding: bytes[position..<(position + count)], as: UTF8.self), radix: 16),
                            let scalar = Unicode.Scalar(code)
                        else { throw fail("invalid \\u escape") }
                        position += count
                        out.append(contentsOf: String(Character(scalar)).utf8)
                    default:
                        throw fail("invalid escape \\\(Character(Unicode.Scalar(e)))")
                    }
                default:
                    if c < 0x20 && c != 0x09 || c == 0x7F { throw fail("control character in a string") }
                    out.append(c)
                }
            }
        }

        private func text(_ bytes: ArraySlice<UInt8>) throws(Failure) -> String {
            guard let s = String(validating: bytes, as: UTF8.self) else { throw fail("invalid UTF-8") }
            return s
        }
    }
}
