#if Postgres
    import Foundation
    import LocalPostgres
    import NostrCore
    import NostrTools
    import XCTest

    /// Several real `tern serve` processes on one real PostgreSQL server (`--store postgres://`):
    /// live events cross nodes once and in order, ephemeral ones too; concurrent versions of one
    /// replaceable event leave only the newest; a node killed with SIGKILL leaves the others
    /// serving; a database stopped mid-ingest turns OKs into `error:` and tern recovers by itself.
    final class ClusterTests: XCTestCase {
        let alice = Signer(seed: 1501)
        let bob = Signer(seed: 1502)

        /// A schema of its own for each test: nodes of one test share it, tests do not.
        func storeURL(_ server: LocalPostgres = .shared) -> String {
            server.url() + "?schema=c_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        }

        func node(_ url: String) throws -> RelayProcess {
            try RelayProcess(arguments: ["serve", "--listen", "127.0.0.1:0", "--store", url], waitForPort: true)
        }

        func client(_ relay: RelayProcess) async throws -> TestClient {
            let client = try await TestClient.connect(port: relay.port, group: TestRelayGroup.shared)
            _ = try await client.nextMessage()  // the AUTH challenge
            return client
        }

        /// A live subscription to `filter` on `relay`, past its EOSE.
        func subscribe(_ relay: RelayProcess, _ filter: String) async throws -> TestClient {
            let client = try await client(relay)
            client.send(#"["REQ","live",\#(filter)]"#)
            _ = try await client.messages(until: "EOSE")
            return client
        }

        /// Two nodes on one store, a live subscriber to alice's events on B (past its EOSE), and a
        /// publisher on A.
        struct TwoNodes {
            let a: RelayProcess
            let b: RelayProcess
            let subscriber: TestClient
            let publisher: TestClient

            func stop() {
                subscriber.close()
                publisher.close()
                a.kill(SIGTERM)
                b.kill(SIGTERM)
            }
        }

        func twoNodes(_ url: String) async throws -> TwoNodes {
            let a = try node(url)
            let b = try node(url)
            let subscriber = try await subscribe(b, #"{"authors":["\#(alice.publicKey.hex)"]}"#)
            return TwoNodes(a: a, b: b, subscriber: subscriber, publisher: try await client(a))
        }

        func ids(_ relay: RelayProcess, _ filter: String) async throws -> [String] {
            let client = try await client(relay)
            defer { client.close() }
            client.send(#"["REQ","q",\#(filter)]"#)
            return try await client.messages(until: "EOSE").compactMap {
                $0.first as? String == "EVENT" ? ($0[2] as? [String: Any])?["id"] as? String : nil
            }
        }

        func testEventsPublishedOnOneNodeReachSubscribersOnTheOtherOnceAndInOrder() async throws {
            let nodes = try await twoNodes(storeURL())
            defer { nodes.stop() }
            let (b, subscriber, publisher) = (nodes.b, nodes.subscriber, nodes.publisher)
            let t = now
            let notes = (0..<20).map { alice.event(kind: 1, content: "note \($0)", createdAt: t - 20 + Int64($0)) }
            for note in notes { publisher.send(note.message) }
            var acknowledged = 0
            while acknowledged < notes.count {
                let m = try await publisher.nextMessage()
                if m.first as? String == "OK" {
                    XCTAssertEqual(m[2] as? Bool, true, "\(m)")
                    acknowledged += 1
                }
            }
            var received: [String] = []
            while received.count < notes.count {
                let m = try await subscriber.nextMessage(seconds: 30)
                XCTAssertEqual(m.first as? String, "EVENT", "\(m)")
                if let id = (m[2] as? [String: Any])?["id"] as? String { received.append(id) }
            }
            XCTAssertEqual(received, notes.map(\.id.hex), "each once, in the publisher's commit order")
            let ephemeral = alice.event(kind: 20001, content: "typing", createdAt: t)
            let (accepted, message) = try await publisher.publish(ephemeral)
            XCTAssertTrue(accepted, message)
            let m = try await subscriber.nextMessage(seconds: 30)
            XCTAssertEqual((m[2] as? [String: Any])?["id"] as? String, ephemeral.id.hex, "ephemeral events cross too")
            let quiet = try await subscriber.receivesNothing(seconds: 1)
            XCTAssertTrue(quiet, "nothing twice")
            let stored = try await ids(b, #"{"kinds":[1],"authors":["\#(alice.publicKey.hex)"]}"#)
            XCTAssertEqual(Set(stored), Set(notes.map(\.id.hex)), "B answers from the shared store")
        }

        /// Any client of the database can notify the feed's channel. A node trusts a notification
        /// to need no read only when the server says one of its own connections sent it, so a
        /// forged one that names B's node and claims numbers far ahead cannot make B skip the
        /// events A commits next; garbage only makes B read.
        func testForgedNotificationsCannotHideEvents() async throws {
            let url = storeURL()
            let schema = String(url.split(separator: "=").last!)
            let nodes = try await twoNodes(url)
            defer { nodes.stop() }
            let onB = try await client(nodes.b)
            defer { onB.close() }
            let fromB = bob.event(kind: 1, content: "from B", createdAt: now - 5)
            let (stored, why) = try await onB.publish(fromB)
            XCTAssertTrue(stored, why)
            let server = LocalPostgres.shared
            let bNode = try server.psql(
                "SELECT node FROM \(schema).feed WHERE id = '\\x\(fromB.id.hex)'::bytea"
            ).trimmingCharacters(in: .whitespacesAndNewlines)
            let top = Int(
                try server.psql("SELECT max(seq) FROM \(schema).feed").trimmingCharacters(in: .whitespacesAndNewlines))
            let last = try XCTUnwrap(top, "the feed numbered B's event")
            XCTAssertFalse(bNode.isEmpty)
            for payload in ["\(last + 1) \(last + 100000) \(bNode)", "\(last + 1) \(last + 1) \(bNode)", "garbage", ""]
            {
                _ = try server.psql("SELECT pg_notify('tern_feed_\(schema)', '\(payload)')")
            }
            let after = alice.event(kind: 1, content: "after the forgeries", createdAt: now - 1)
            let (accepted, message) = try await nodes.publisher.publish(after)
            XCTAssertTrue(accepted, message)
            let m = try await nodes.subscriber.nextMessage(seconds: 30)
            XCTAssertEqual((m[2] as? [String: Any])?["id"] as? String, after.id.hex, "B still delivers A's events")
        }

        func testConcurrentVersionsOfAReplaceableEventLeaveOnlyTheNewest() async throws {
            let url = storeURL()
            let a = try node(url)
            defer { a.kill(SIGTERM) }
            let b = try node(url)
            defer { b.kill(SIGTERM) }
            let onA = try await client(a)
            defer { onA.close() }
            let onB = try await client(b)
            defer { onB.close() }
            let t = now - 1000
            for round in 0..<25 {
                let at = t + Int64(round) * 10
                // Even rounds: the newer version goes to A; odd: to B. Sent together, answered after.
                let older = alice.event(kind: 0, content: #"{"name":"old \#(round)"}"#, createdAt: at + 1)
                let newer = alice.event(kind: 0, content: #"{"name":"new \#(round)"}"#, createdAt: at + 2)
                let list1 = bob.event(kind: 30000, content: "x", tags: [["d", "r\(round)"]], createdAt: at + 5)
                let list2 = bob.event(kind: 30000, content: "y", tags: [["d", "r\(round)"]], createdAt: at + 5)
                let lowerList = list1.id < list2.id ? list1 : list2
                let (first, second) = round % 2 == 0 ? (onA, onB) : (onB, onA)
                first.send(newer.message)
                second.send(older.message)
                first.send(list1.message)
                second.send(list2.message)
                for c in [first, second] {
                    var oks = 0
                    while oks < 2 {
                        let m = try await c.nextMessage(seconds: 30)
                        guard m.first as? String == "OK" else { continue }
                        oks += 1
                        // Saved, or refused as older than the version stored.
                        XCTAssertTrue(
                            m[2] as? Bool == true || (m[3] as? String ?? "").hasPrefix("duplicate:"), "\(m)")
                    }
                }
                for relay in [a, b] {
                    let profiles = try await ids(relay, #"{"kinds":[0],"authors":["\#(alice.publicKey.hex)"]}"#)
                    XCTAssertEqual(profiles, [newer.id.hex], "round \(round): only the newest profile")
                    let lists = try await ids(relay, ##"{"kinds":[30000],"#d":["r\##(round)"]}"##)
                    XCTAssertEqual(lists, [lowerList.id.hex], "round \(round): on a tie, only the lowest id")
                }
            }
        }

        func testANodeKilledWithSIGKILLLeavesTheOthersServing() async throws {
            let url = storeURL()
            let a = try node(url)
            let b = try node(url)
            defer { b.kill(SIGTERM) }
            let onA = try await client(a)
            let t = now
            let before = alice.event(kind: 1, content: "before the kill", createdAt: t - 1)
            let (accepted, message) = try await onA.publish(before)
            XCTAssertTrue(accepted, message)
            a.kill(SIGKILL)
            a.process.waitUntilExit()
            onA.close()
            let onB = try await client(b)
            defer { onB.close() }
            let after = alice.event(kind: 1, content: "after the kill", createdAt: t)
            let (acceptedAfter, messageAfter) = try await onB.publish(after)
            XCTAssertTrue(acceptedAfter, messageAfter)
            let stored = try await ids(b, #"{"authors":["\#(alice.publicKey.hex)"]}"#)
            XCTAssertEqual(stored, [after.id.hex, before.id.hex], "what A acknowledged is there")
            // A restarted node serves and delivers again.
            let again = try node(url)
            defer { again.kill(SIGTERM) }
            let subscriber = try await subscribe(again, #"{"authors":["\#(bob.publicKey.hex)"]}"#)
            defer { subscriber.close() }
            let bobs = bob.event(kind: 1, content: "to the restarted node", createdAt: t)
            let (acceptedBob, messageBob) = try await onB.publish(bobs)
            XCTAssertTrue(acceptedBob, messageBob)
            let m = try await subscriber.nextMessage(seconds: 30)
            XCTAssertEqual((m[2] as? [String: Any])?["id"] as? String, bobs.id.hex)
        }

        func testTheDatabaseStoppedMidIngestAndBackAgain() async throws {
            let server = try LocalPostgres()
            defer {
                server.stop()
                try? FileManager.default.removeItem(atPath: server.directory)
            }
            let nodes = try await twoNodes(storeURL(server))
            defer { nodes.stop() }
            let (a, b, subscriber, publisher) = (nodes.a, nodes.b, nodes.subscriber, nodes.publisher)
            let t = now
            let first = alice.event(kind: 1, content: "before the outage", createdAt: t - 3)
            var (accepted, message) = try await publisher.publish(first)
            XCTAssertTrue(accepted, message)
            _ = try await subscriber.nextMessage(seconds: 30)

            server.stop()
            let during = alice.event(kind: 1, content: "during the outage", createdAt: t - 2)
            (accepted, message) = try await publisher.publish(during)
            XCTAssertFalse(accepted, "never OK true for what is not committed")
            XCTAssertTrue(message.hasPrefix("error:"), message)
            let reader = try await client(a)
            reader.send(#"["REQ","r",{"kinds":[1]}]"#)
            let answer = try await reader.nextMessage(seconds: 60)
            XCTAssertEqual(answer.first as? String, "CLOSED", "a read it cannot answer is closed, not hung: \(answer)")
            XCTAssertTrue((answer.last as? String ?? "").hasPrefix("error:"), "\(answer)")
            reader.close()

            try server.start()
            // tern reconnects by itself: the same event is accepted once the database answers.
            let deadline = Date().addingTimeInterval(60)
            repeat {
                (accepted, message) = try await publisher.publish(during)
            } while !accepted && Date() < deadline
            XCTAssertTrue(accepted, message)
            let m = try await subscriber.nextMessage(seconds: 30)
            XCTAssertEqual((m[2] as? [String: Any])?["id"] as? String, during.id.hex, "B's feed reconnected")
            let got = try await ids(b, #"{"authors":["\#(alice.publicKey.hex)"]}"#)
            XCTAssertEqual(got, [during.id.hex, first.id.hex])
        }
    }
#endif
