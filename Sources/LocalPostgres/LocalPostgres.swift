import Foundation

/// A PostgreSQL server of the tests' own: `initdb` in a temporary folder, then `postgres` on a
/// free loopback port, from Debian's `postgresql` package. Stopped by `stop()` or, for the shared
/// one, when the test process exits. Run as root, the server runs as the `postgres` user (which
/// the package creates): PostgreSQL refuses to run as root.
public final class LocalPostgres: @unchecked Sendable {
    public let directory: String
    public private(set) var port: Int
    /// The role the tests connect as (trust authentication, loopback only).
    public let user = "tern"
    private let lock = NSLock()
    private var running = false

    /// One server for the whole test process, started on first use.
    public static let shared: LocalPostgres = {
        do {
            let server = try LocalPostgres()
            atexit { LocalPostgres.stopShared() }
            return server
        } catch {
            fatalError("cannot start a PostgreSQL server for the tests: \(error)")
        }
    }()

    private static func stopShared() {
        shared.stop()
        try? FileManager.default.removeItem(atPath: shared.directory)
    }

    /// `fsync`: whether the server syncs its writes (tests that never cut the power leave it off).
    public init(fsync: Bool = false) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tern-pg-\(UUID().uuidString)").path
        port = 0
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Self.giveToServerUser(directory)
        try Self.run(
            "initdb",
            ["-D", "\(directory)/data", "-U", user, "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync"])
        var settings = "listen_addresses = '127.0.0.1'\nunix_socket_directories = '\(directory)'\n"
        settings += "max_connections = 400\nshared_buffers = 64MB\n"
        if !fsync { settings += "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n" }
        try Self.append(settings, to: "\(directory)/data/postgresql.conf")
        try start()
    }

    /// `postgres://tern@127.0.0.1:PORT/DATABASE`.
    public func url(database: String = "postgres") -> String { "postgres://\(user)@127.0.0.1:\(port)/\(database)" }

    /// Starts the server (again, after `stop`), on a new free port the first time.
    public func start() throws {
        try lock.withLock {
            guard !running else { return }
            if port == 0 { port = try Self.freePort() }
            try Self.run(
                "pg_ctl",
                ["-D", "\(directory)/data", "-l", "\(directory)/log", "-o", "-p \(port)", "-w", "-t", "60", "start"])
            running = true
        }
    }

    /// A fast shutdown: sessions are ended, committed work is kept.
    public func stop() {
        lock.withLock {
            guard running else { return }
            _ = try? Self.run("pg_ctl", ["-D", "\(directory)/data", "-m", "fast", "-w", "-t", "60", "stop"])
            running = false
        }
    }

    /// Runs `psql` with `sql` against `database`; returns what it printed (unaligned, tuples only).
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") throws -> String {
        try Self.run(
            "psql", ["-h", "127.0.0.1", "-p", "\(port)", "-U", user, "-d", database, "-X", "-A", "-t", "-c", sql],
            asServerUser: false)
    }

    // MARK: processes

    static var isRoot: Bool { getuid() == 0 }

    /// The directory of PostgreSQL's programs: Debian keeps the server's out of PATH.
    static let binDirectory: String? = {
        let base = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).compactMap { Int($0) }
        return versions.max().map { "\(base)/\($0)/bin" }
    }()

    static func program(_ name: String) -> String {
        if let dir = binDirectory, FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
            return "\(dir)/\(name)"
        }
        return name
    }

    /// Runs a program to its end (posix_spawn and waitpid: Foundation's `Process` can miss the
    /// exit of `pg_ctl start`, whose server lives on); its output goes to a file, not a pipe,
    /// since the server keeps the descriptors it inherits.
    @discardableResult
    static func run(_ name: String, _ arguments: [String], asServerUser: Bool = true) throws -> String {
        var argv = [program(name)] + arguments
        if asServerUser && isRoot { argv = ["runuser", "-u", "postgres", "--"] + argv }
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent(
            "tern-pg-\(UUID().uuidString).out"
        )
        .path
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawnp(&pid, argv[0], &actions, nil, &cArguments, environ)
        guard spawned == 0 else { throw LocalPostgresError("cannot start \(argv[0]): error \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        // Exited normally with status 0 (WIFEXITED and WEXITSTATUS, spelled out).
        guard status & 0x7f == 0 && (status >> 8) & 0xff == 0 else {
            throw LocalPostgresError("\(name) \(arguments.joined(separator: " ")) failed: \(text)")
        }
        return text
    }

    static func giveToServerUser(_ path: String) throws {
        guard isRoot else { return }
        try run("chown", ["postgres", path], asServerUser: false)
        try run("chmod", ["700", path], asServerUser: false)
    }

    /// Appends to a file of the server's user (root may write it all the same).
    static func append(_ text: String, to path: String) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
    }

    /// A loopback port nobody listens on now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LocalPostgresError("socket failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw LocalPostgresError("bind failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

public struct LocalPostgresError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
