import Logging
import NIOConcurrencyHelpers
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Where log lines go and at what level, shared by every logger of the process and changed in
/// place on SIGHUP: the file is opened again (after logrotate moved it away) and the levels
/// are read again. A module is the `module` metadata a component's logger carries (`writer`,
/// `store`, `plugin`, `nip86`, `server`, `relay`), or its label.
final class LogSettings: Sendable {
    struct State {
        var level: Logger.Level
        var modules: [String: Logger.Level]
        var path: String?
        var fd: Int32
    }

    private let state: NIOLockedValueBox<State>
    /// `lowest`'s position in `Logger.Level.allCases`, kept apart: every log call reads it.
    private let lowestIndex: Synchronization.Atomic<Int>

    init(level: Logger.Level, modules: [String: Logger.Level], path: String?) throws {
        let fd = try Self.open(path)
        state = NIOLockedValueBox(State(level: level, modules: modules, path: path, fd: fd))
        lowestIndex = Synchronization.Atomic(Self.index(of: Self.lowest(level, modules)))
    }

    /// The lowest level any module logs at: loggers let through what some module wants.
    var lowest: Logger.Level { Logger.Level.allCases[lowestIndex.load(ordering: .relaxed)] }

    private static func lowest(_ level: Logger.Level, _ modules: [String: Logger.Level]) -> Logger.Level {
        modules.values.reduce(level) { min($0, $1) }
    }

    private static func index(of level: Logger.Level) -> Int { Logger.Level.allCases.firstIndex(of: level) ?? 0 }

    func level(for module: String) -> Logger.Level {
        state.withLockedValue { $0.modules[module] ?? $0.level }
    }

    /// New levels, and the log file opened again (or a new one). On failure the old file stays.
    func reload(level: Logger.Level, modules: [String: Logger.Level], path: String?) throws {
        let fd = try Self.open(path)
        let old = state.withLockedValue { s -> Int32 in
            let old = s.fd
            s = State(level: level, modules: modules, path: path, fd: fd)
            return old
        }
        lowestIndex.store(Self.index(of: Self.lowest(level, modules)), ordering: .relaxed)
        if old != 2 { close(old) }
    }

    func write(_ line: String) {
        state.withLockedValue { s in
            _ = line.withCString { Glibc.write(s.fd, $0, strlen($0)) }
        }
    }

    private static func open(_ path: String?) throws -> Int32 {
        guard let path, !path.isEmpty else { return 2 }
        let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw LogFileError(path: path, reason: String(cString: strerror(errno))) }
        return fd
    }

    /// `store=debug,plugin=warning` → levels by module.
    static func parseModules(_ text: String) -> [String: Logger.Level]? {
        var out: [String: Logger.Level] = [:]
        for part in text.split(separator: ",") where !part.trimmingCharacters(in: " ").isEmpty {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, let level = Logger.Level(rawValue: pair[1].trimmingCharacters(in: " ")) else {
                return nil
            }
            out[pair[0].trimmingCharacters(in: " ")] = level
        }
        return out
    }
}

struct LogFileError: Error, CustomStringConvertible {
    let path: String
    let reason: String
    var description: String { "cannot open log file \(path): \(reason)" }
}

extension Substring {
    func trimmingCharacters(in set: Character) -> String {
        String(drop { $0 == set }.reversed().drop { $0 == set }.reversed())
    }
}

extension String {
    func trimmingCharacters(in set: Character) -> String { self[...].trimmingCharacters(in: set) }
}
