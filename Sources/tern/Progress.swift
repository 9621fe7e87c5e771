#if canImport(Glibc)
    import Glibc
#endif

/// A long tool run's progress on standard error: on a terminal, a bar redrawn in place with
/// events/s and, when the total is known, the share done and an ETA; otherwise a plain line every
/// few seconds, for logs.
final class Progress {
    private let verb: String
    /// The amount of work when known (input bytes for an import, events for an export).
    private let total: Int?
    private let terminal: Bool
    private let interval: Double
    private let start = Progress.now()
    private var last = 0.0
    private var drawn = false

    init(verb: String, total: Int?, terminal: Bool = isatty(2) == 1) {
        self.verb = verb
        self.total = total.flatMap { $0 > 0 ? $0 : nil }
        self.terminal = terminal
        self.interval = terminal ? 0.2 : 5
    }

    /// Seconds since the run began.
    var elapsed: Double { Progress.now() - start }

    /// `done` is in the unit of the total; `events` is what the run has handled so far.
    func update(done: Int, events: Int) {
        let now = Progress.now()
        guard now - last >= interval else { return }
        last = now
        draw(done: done, events: events, elapsed: now - start)
    }

    /// Ends the bar's line (a terminal), so that what follows starts on a line of its own.
    func finish(done: Int, events: Int) {
        if terminal {
            draw(done: total ?? done, events: events, elapsed: elapsed)
            if drawn { Progress.write("\n") }
        }
    }

    private func draw(done: Int, events: Int, elapsed: Double) {
        let rate = elapsed > 0 ? Double(events) / elapsed : 0
        var share = ""
        var eta = ""
        var bar = ""
        if let total {
            let fraction = min(1, Double(done) / Double(total))
            share = " \(Int(fraction * 100))%"
            if fraction > 0, fraction < 1 {
                eta = " ETA " + Progress.duration(elapsed / fraction - elapsed)
            }
            let filled = Int(fraction * 30)
            bar = " [" + String(repeating: "#", count: filled) + String(repeating: ".", count: 30 - filled) + "]"
        }
        let figures = "\(share) \(Progress.grouped(events)) events \(Progress.grouped(Int(rate)))/s\(eta)"
        if terminal {
            Progress.write("\r\u{1B}[K\(verb)\(bar)\(figures)")
            drawn = true
        } else {
            Progress.write("\(verb):\(figures)\n")
        }
    }

    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    static func write(_ text: String) {
        _ = text.withCString { Glibc.write(2, $0, strlen($0)) }
    }

    /// `1234567` → `1,234,567`.
    static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = n < 0 ? "-" : ""
        for (i, c) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out += "," }
            out.append(c)
        }
        return out
    }

    /// Seconds as `1:05:09`, `5:09` or `9s`.
    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s)s" }
        let (h, m, r) = (s / 3600, s / 60 % 60, s % 60)
        let mmss = (m < 10 && h > 0 ? "0" : "") + "\(m):" + (r < 10 ? "0" : "") + "\(r)"
        return h > 0 ? "\(h):\(mmss)" : mmss
    }
}
