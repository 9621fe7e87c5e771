#if Postgres
    /// Where a PostgreSQL store lives: `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`, with
    /// optional `?schema=NAME` (default `tern`: several relays may share one database, each in its
    /// own schema) and `pool=N` (connections for reads, default 4).
    public struct StoreURL: Sendable, Equatable, CustomStringConvertible {
        public var user: String
        public var password: String?
        public var host: String
        public var port: Int
        public var database: String
        public var schema: String
        public var readConnections: Int

        public static func isPostgres(_ text: String) -> Bool {
            text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
        }

        public init(_ text: String) throws(StoreURLError) {
            guard Self.isPostgres(text), let schemeEnd = text.range(of: "://") else {
                throw StoreURLError("a PostgreSQL URL starts with postgres://")
            }
            var rest = Substring(text[schemeEnd.upperBound...])
            var query: Substring = ""
            if let q = rest.firstIndex(of: "?") {
                query = rest[rest.index(after: q)...]
                rest = rest[..<q]
            }
            guard let slash = rest.firstIndex(of: "/") else { throw StoreURLError("the URL names no database") }
            let authority = rest[..<slash]
            database = String(rest[rest.index(after: slash)...])
            guard !database.isEmpty else { throw StoreURLError("the URL names no database") }
            var hostPart = authority
            user = "postgres"
            password = nil
            if let at = authority.lastIndex(of: "@") {
                let credentials = authority[..<at]
                hostPart = authority[authority.index(after: at)...]
                if let colon = credentials.firstIndex(of: ":") {
                    user = Self.unescape(credentials[..<colon])
                    password = Self.unescape(credentials[credentials.index(after: colon)...])
                } else {
                    user = Self.unescape(credentials)
                }
            }
            port = 5432
            if let colon = hostPart.lastIndex(of: ":") {
                guard let p = Int(hostPart[hostPart.index(after: colon)...]), (1...65535).contains(p) else {
                    throw StoreURLError("bad port in the URL")
                }
                port = p
                hostPart = hostPart[..<colon]
            }
            host = String(hostPart)
            guard !host.isEmpty else { throw StoreURLError("the URL names no host") }
            schema = "tern"
            readConnections = 4
            for pair in query.split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                let value = kv.count == 2 ? String(kv[1]) : ""
                switch kv.first ?? "" {
                case "schema":
                    guard Self.isIdentifier(value) else {
                        throw StoreURLError("schema must be letters, digits and _ (starting with a letter)")
                    }
                    schema = value
                case "pool":
                    guard let n = Int(value), (1...256).contains(n) else {
                        throw StoreURLError("pool must be a number from 1 to 256")
                    }
                    readConnections = n
                default:
                    throw StoreURLError("unknown URL option \(kv.first ?? "") (known: schema, pool)")
                }
            }
        }

        /// Without the password.
        public var description: String {
            "postgres://\(user)@\(host):\(port)/\(database)?schema=\(schema)"
        }

        static func isIdentifier(_ s: String) -> Bool {
            guard let first = s.utf8.first, s.utf8.count <= 48 else { return false }
            let letter = (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first | 0x20)
            return letter
                && s.utf8.allSatisfy { c in
                    (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(c | 0x20)
                        || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c)
                        || c == UInt8(ascii: "_")
                }
        }

        /// Percent-decoding of the user and password.
        static func unescape(_ s: Substring) -> String {
            var out: [UInt8] = []
            var bytes = Array(s.utf8)[...]
            while let c = bytes.popFirst() {
                if c == UInt8(ascii: "%"), bytes.count >= 2,
                    let v = UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16)
                {
                    out.append(v)
                    bytes = bytes.dropFirst(2)
                } else {
                    out.append(c)
                }
            }
            return String(decoding: out, as: UTF8.self)
        }
    }

    public struct StoreURLError: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }
#endif
