import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// Structured log lines on standard error, in logfmt: `ts=… level=… msg="…" key=value …`.
struct LogfmtHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level
    let label: String

    init(label: String, level: Logger.Level) {
        self.label = label
        self.logLevel = level
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let millis = now.tv_nsec / 1_000_000
        var line = "ts=\(now.tv_sec).\(millis < 10 ? "00" : millis < 100 ? "0" : "")\(millis) level=\(event.level)"
        line += " logger=\(label) msg=\(Self.quote(event.message.description))"
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            line += " \(key)=\(Self.quote(value.description))"
        }
        line += "\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }

    static func quote(_ s: String) -> String {
        let plain = !s.isEmpty && s.allSatisfy { $0 != " " && $0 != "\"" && $0 != "=" && !$0.isNewline }
        if plain { return s }
        var out = "\""
        for c in s {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out + "\""
    }
}
