package dev.telemetryd.neo4j;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.driver.AuthTokens;
import org.neo4j.driver.Config;
import org.neo4j.driver.Driver;
import org.neo4j.driver.GraphDatabase;
import org.neo4j.driver.Logging;
import org.neo4j.driver.Session;
import org.neo4j.driver.SessionConfig;
import org.neo4j.logging.log4j.Log4jLogProvider;

/**
 * Development Neo4j for telemetryd: an embedded Neo4j Community server with only
 * the Bolt connector, on 127.0.0.1, without authentication.
 *
 * <p>Usage: {@code java -jar dev-neo4j.jar [port] [dir]}. The port defaults to
 * {@code $NEO4J_PORT} or 7687; the directory (database home: data, transaction
 * logs, Neo4j's own logs) defaults to {@code $NEO4J_DIR} or {@code .neo4j/<port>}.
 *
 * <p>Once a {@code RETURN 1} has been answered over Bolt by the Java driver, the
 * file {@code <dir>/ready} is written and a line starting with {@code READY} is
 * printed. SIGTERM (or Ctrl-C) shuts the database down cleanly and removes the
 * ready file. Exit status 1 when the database could not be started.
 */
public final class DevNeo4j {
    private static final String HOST = "127.0.0.1";

    private DevNeo4j() {}

    public static void main(String[] args) throws Exception {
        int port = parsePort(args.length > 0 ? args[0] : env("NEO4J_PORT", "7687"));
        Path dir = Path.of(args.length > 1 ? args[1] : env("NEO4J_DIR", ".neo4j/" + port))
                .toAbsolutePath()
                .normalize();
        Files.createDirectories(dir);
        Path ready = dir.resolve("ready");
        Files.deleteIfExists(ready);

        long started = System.nanoTime();
        log("starting Neo4j (embedded) on bolt://" + HOST + ":" + port + ", home " + dir);

        DatabaseManagementService dbms;
        try {
            dbms = new DatabaseManagementServiceBuilder(dir)
                    .setUserLogProvider(new Log4jLogProvider(System.out))
                    // Connectors: Bolt only, loopback only, plain text.
                    .setConfig(BoltConnector.enabled, true)
                    .setConfig(BoltConnector.listen_address, new SocketAddress(HOST, port))
                    .setConfig(BoltConnector.advertised_address, new SocketAddress(HOST, port))
                    .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                    .setConfig(HttpConnector.enabled, false)
                    .setConfig(HttpsConnector.enabled, false)
                    // Tests connect without credentials.
                    .setConfig(GraphDatabaseSettings.auth_enabled, false)
                    // No usage reporting: this machine talks to nothing outside.
                    .setConfig(GraphDatabaseSettings.udc_enabled, false)
                    // Memory: heap is bounded by -Xmx on the java command line.
                    .setConfig(GraphDatabaseSettings.pagecache_memory, 256L * 1024 * 1024)
                    // Keep transaction logs small: only the newest, rotated at 16 MiB, not preallocated.
                    .setConfig(GraphDatabaseSettings.keep_logical_logs, "false")
                    .setConfig(GraphDatabaseSettings.logical_log_rotation_threshold, 16L * 1024 * 1024)
                    .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
                    // Stop fast: Bolt otherwise waits 5 s twice for idle connections and workers.
                    .setConfig(BoltConnectorInternalSettings.connection_shutdown_wait_time, Duration.ofSeconds(1))
                    .setConfig(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time, Duration.ofSeconds(1))
                    .build();
        } catch (Throwable t) {
            log("FAILED to start Neo4j: " + t);
            t.printStackTrace(System.out);
            System.out.flush();
            System.exit(1);
            return;
        }

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            log("shutting down Neo4j");
            try {
                Files.deleteIfExists(ready);
            } catch (IOException ignored) {
                // best effort
            }
            try {
                dbms.shutdown();
                log("Neo4j stopped");
            } catch (Throwable t) {
                log("error during shutdown: " + t);
            } finally {
                stopped.countDown();
            }
        }, "dev-neo4j-shutdown"));

        try {
            checkBolt(port);
        } catch (Throwable t) {
            log("FAILED: Bolt did not answer: " + t);
            t.printStackTrace(System.out);
            System.out.flush();
            System.exit(1); // runs the shutdown hook
            return;
        }

        Path tmp = dir.resolve("ready.tmp");
        Files.writeString(tmp, "bolt://" + HOST + ":" + port + "\n", StandardCharsets.UTF_8);
        Files.move(tmp, ready, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
        log("READY bolt://" + HOST + ":" + port + " (pid " + ProcessHandle.current().pid() + ", " + ms + " ms)");

        stopped.await();
    }

    /** Runs RETURN 1 over Bolt against the default database, retrying for a while. */
    private static void checkBolt(int port) throws InterruptedException {
        Config config = Config.builder()
                .withoutEncryption()
                .withLogging(Logging.none())
                .withConnectionTimeout(5, TimeUnit.SECONDS)
                .build();
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        RuntimeException last = null;
        try (Driver driver = GraphDatabase.driver("bolt://" + HOST + ":" + port, AuthTokens.none(), config)) {
            while (System.nanoTime() < deadline) {
                try (Session session = driver.session(SessionConfig.forDatabase("neo4j"))) {
                    long one = session.run("RETURN 1 AS one").single().get("one").asLong();
                    if (one == 1) {
                        return;
                    }
                    last = new IllegalStateException("RETURN 1 answered " + one);
                } catch (RuntimeException e) {
                    last = e;
                }
                Thread.sleep(250);
            }
        }
        throw last != null ? last : new IllegalStateException("timed out");
    }

    private static int parsePort(String s) {
        try {
            int port = Integer.parseInt(s.trim());
            if (port > 0 && port < 65536) {
                return port;
            }
        } catch (NumberFormatException ignored) {
            // fall through
        }
        System.err.println("dev-neo4j: invalid port: " + s);
        System.exit(2);
        return -1;
    }

    private static String env(String name, String fallback) {
        String v = System.getenv(name);
        return v == null || v.isBlank() ? fallback : v;
    }

    private static void log(String msg) {
        System.out.println("[dev-neo4j] " + msg);
        System.out.flush();
    }
}
