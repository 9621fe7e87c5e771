/// Results of one `tern bench` run, printed for people or as one JSON object.
public struct BenchReport: Sendable {
    public var scenario = ""
    public var url = ""
    public var fields: [(String, Value)] = []
    public var warnings: [String] = []

    public enum Value: Sendable {
        case int(Int)
        case number(Double)
        case text(String)
        case flag(Bool)
    }

    mutating func add(_ key: String, _ value: Value) { fields.append((key, value)) }

    mutating func add(_ prefix: String, _ s: Latencies.Summary) {
        add("\(prefix)_count", .int(s.count))
        add("\(prefix)_p50_ms", .number(s.p50))
        add("\(prefix)_p90_ms", .number(s.p90))
        add("\(prefix)_p99_ms", .number(s.p99))
        add("\(prefix)_max_ms", .number(s.max))
    }

    static func format(_ v: Value) -> String {
        switch v {
        case .int(let i): return "\(i)"
        case .number(let d):
            let r = (d * 1000).rounded() / 1000
            return "\(r)"
        case .text(let s): return s
        case .flag(let b): return b ? "true" : "false"
        }
    }

    public var human: String {
        var lines = ["tern bench \(scenario) against \(url)"]
        let width = fields.map(\.0.count).max() ?? 0
        for (k, v) in fields {
            lines.append("  " + k + String(repeating: " ", count: width - k.count) + "  " + Self.format(v))
        }
        for w in warnings { lines.append("  warning: \(w)") }
        return lines.joined(separator: "\n")
    }

    public var json: String {
        func quote(_ s: String) -> String {
            var out = "\""
            for c in s.unicodeScalars {
                switch c {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                default: out.unicodeScalars.append(c)
                }
            }
            return out + "\""
        }
        var parts = ["\"scenario\":\(quote(scenario))", "\"url\":\(quote(url))"]
        for (k, v) in fields {
            let value: String
            switch v {
            case .text(let s): value = quote(s)
            default: value = Self.format(v)
            }
            parts.append("\(quote(k)):\(value)")
        }
        parts.append("\"warnings\":[" + warnings.map(quote).joined(separator: ",") + "]")
        return "{" + parts.joined(separator: ",") + "}"
    }
}
