import ArgumentParser
import NostrCore
import NostrTools
import RelayCore

#if canImport(Glibc)
    import Glibc
#endif

/// `tern admin`: the NIP-86 management methods from the command line, signed with NIP-98.
struct Admin: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage a running relay through NIP-86 (ban, allow, block, rename).",
        discussion: """
            Calls one NIP-86 method on the relay at --url and prints its result as JSON. The
            request is signed (NIP-98) with an admin's secret key, read from --key-file or from
            the TERN_ADMIN_KEY environment variable (64 hex characters or nsec); the relay must
            list that key's pubkey in policy.admins. Methods:
              \(ManagementService.methods.joined(separator: ", "))
            Examples:
              tern admin banpubkey <hex pubkey> "spam"
              tern admin allowkind 30023
              tern admin blockip 203.0.113.7 "scraper"
              tern admin changerelayname "My relay"
            """
    )

    @Option(name: .long, help: "The relay's address (http:// or ws://).")
    var url = "http://127.0.0.1:7447"

    @Option(
        name: .long,
        help: "The relay's public URL for the NIP-98 u tag, when it differs from --url (relay.url in its settings).")
    var relayURL: String?

    @Option(name: .long, help: "File holding the admin's secret key (hex or nsec).")
    var keyFile: String?

    @Argument(help: "The NIP-86 method.")
    var method: String

    @Argument(help: "Its parameters: a pubkey, id, kind, IP address or text, then an optional reason.")
    var params: [String] = []

    func run() throws {
        let signer = try loadSigner()
        let request = JSONValue.object([("method", .string(method)), ("params", .array(parameters))]).bytes
        let address = url.hasPrefix("ws://") ? "http://" + url.dropFirst(5) : url
        let auth = signer.event(
            kind: HTTPAuth.kind, content: "",
            tags: [["u", relayURL ?? address], ["method", "POST"], ["payload", EventID.sha256(request).hex]],
            createdAt: Int64(time(nil)))
        let response: HTTPPost.Response
        do {
            response = try HTTPPost.send(
                url: address,
                headers: [
                    ("Content-Type", "application/nostr+json+rpc"),
                    ("Authorization", "Nostr " + Base64.encode(auth.jsonBytes)),
                ], body: request)
        } catch {
            throw ValidationError("cannot reach the relay at \(address): \(error)")
        }
        let answer = try? JSONValue.parse(response.body)
        if let error = answer?["error"]?.string {
            throw ValidationError("the relay refused (HTTP \(response.status)): \(error)")
        }
        guard response.status == 200, let result = answer?["result"] else {
            throw ValidationError(
                "unexpected answer (HTTP \(response.status)): \(String(decoding: response.body, as: UTF8.self))")
        }
        print(result.text)
    }

    /// Kind methods take a number; the rest take strings.
    var parameters: [JSONValue] {
        params.enumerated().map { i, p in
            if i == 0, method.hasSuffix("kind"), let n = Int64(p) { return .integer(n) }
            return .string(p)
        }
    }

    func loadSigner() throws -> Signer {
        let text: String
        if let keyFile {
            guard let bytes = LocalFile.read(keyFile) else { throw ValidationError("cannot read \(keyFile)") }
            text = String(decoding: bytes, as: UTF8.self)
        } else if let key = getenv("TERN_ADMIN_KEY") {
            text = String(cString: key)
        } else {
            throw ValidationError("give the admin's secret key with --key-file or TERN_ADMIN_KEY")
        }
        let trimmed = text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\r" }).first.map(String.init) ?? ""
        guard let secret = Bytes32(hex: Array(trimmed.utf8)) ?? NPub.decode(trimmed, hrp: "nsec"),
            let signer = Signer(secretKey: secret.bytes)
        else { throw ValidationError("the secret key must be 64 hex characters or nsec") }
        return signer
    }
}
