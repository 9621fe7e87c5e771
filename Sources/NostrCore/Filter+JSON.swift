extension Filter {
    /// The filter as NIP-01 JSON (lists sorted, tag values sorted), for a client that sends it
    /// on (`tern stream` adds `since` and `limit` to the operator's filter this way).
    public var json: String {
        var out: [UInt8] = [UInt8(ascii: "{")]
        func key(_ name: String) {
            if out.count > 1 { out.append(UInt8(ascii: ",")) }
            JSONWriter.appendString(name, to: &out, mode: .output)
            out.append(UInt8(ascii: ":"))
        }
        func list(_ values: [String]) {
            out.append(UInt8(ascii: "["))
            for (i, value) in values.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONWriter.appendString(value, to: &out, mode: .output)
            }
            out.append(UInt8(ascii: "]"))
        }
        if let ids {
            key("ids")
            list(ids.map(\.hex))
        }
        if let authors {
            key("authors")
            list(authors.map(\.hex))
        }
        if let kinds {
            key("kinds")
            out.append(contentsOf: Array(("[" + kinds.map(String.init).joined(separator: ",") + "]").utf8))
        }
        for condition in tags {
            key("#" + String(UnicodeScalar(condition.name)))
            list(condition.values.sorted())
        }
        if let since {
            key("since")
            out.append(contentsOf: Array(String(since).utf8))
        }
        if let until {
            key("until")
            out.append(contentsOf: Array(String(until).utf8))
        }
        if let search {
            key("search")
            JSONWriter.appendString(search, to: &out, mode: .output)
        }
        if let limit {
            key("limit")
            out.append(contentsOf: Array(String(limit).utf8))
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }
}
