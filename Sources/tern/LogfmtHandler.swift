import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// Structured log lines in logfmt, `ts=… level=… msg="…" key=value …`, on standard error or
/// the log file, each module at its level (`LogSettings`).
struct LogfmtHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    let label: String
    let settings: LogSettings

    init(label: String, settings: LogSettings) {
        self.label = label
        self.settings = settings
    }

    /// What the logger lets through: the lowest level of any module; `log` filters by module.
    var logLevel: Logger.Level {
        get { settings.lowest }
        set {}
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let module = event.metadata?["module"]?.description ?? metadata["module"]?.description ?? label
        guard event.level >= settings.level(for: module) else { return }
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
        settings.write(line)
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
