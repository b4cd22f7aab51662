package datafabric.neo4j;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.io.ByteUnit;
import org.neo4j.logging.Level;
import org.neo4j.logging.log4j.Log4jLogProvider;

/**
 * A Neo4j Community DBMS embedded in a plain JVM, reachable over Bolt on 127.0.0.1 without auth.
 *
 * <p>Usage: {@code Neo4jTestServer PORT HOME_DIR}. Prints {@code neo4j-server ready bolt://127.0.0.1:PORT}
 * once the default database is available and the Bolt port accepts connections; shuts down cleanly on
 * SIGTERM/SIGINT (JVM shutdown hook). With {@code NEO4J_SERVER_EXIT_ON_STDIN_EOF=1} it also shuts down when
 * its standard input closes, so a test runner that dies without cleaning up does not leave it behind.
 */
public final class Neo4jTestServer {
    private static final String HOST = "127.0.0.1";

    private Neo4jTestServer() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: Neo4jTestServer PORT HOME_DIR");
            System.exit(2);
        }
        int port = Integer.parseInt(args[0]);
        Path home = Path.of(args[1]).toAbsolutePath();

        long started = System.nanoTime();
        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
                .setUserLogProvider(new Log4jLogProvider(System.out, Level.WARN))
                .setConfig(GraphDatabaseSettings.auth_enabled, false)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress(HOST, port))
                .setConfig(BoltConnector.advertised_address, new SocketAddress(HOST, port))
                .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                .setConfig(BoltConnector.thread_pool_max_size, 64)
                // Netty waits 5 s twice by default before it lets the JVM go; a test server need not.
                .setConfig(BoltConnectorInternalSettings.connection_shutdown_wait_time, Duration.ofMillis(500))
                .setConfig(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time, Duration.ofMillis(500))
                .setConfig(HttpConnector.enabled, false)
                .setConfig(HttpsConnector.enabled, false)
                .setConfig(GraphDatabaseSettings.routing_enabled, false)
                .setConfig(GraphDatabaseSettings.udc_enabled, false)
                .setConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(256))
                .setConfig(GraphDatabaseSettings.pagecache_warmup_enabled, false)
                .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
                .setConfig(GraphDatabaseSettings.preallocate_store_files, false)
                .setConfig(GraphDatabaseSettings.logical_log_rotation_threshold, ByteUnit.mebiBytes(16))
                .setConfig(GraphDatabaseInternalSettings.dump_diagnostics, false)
                .build();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("neo4j-server stopping");
            System.out.flush();
            dbms.shutdown();
            System.out.println("neo4j-server stopped");
            System.out.flush();
            stopped.countDown();
        }, "neo4j-server-shutdown"));

        if (!dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME).isAvailable(Duration.ofMinutes(2).toMillis())) {
            System.err.println("neo4j-server: default database did not become available");
            System.exit(1);
        }
        awaitPort(port, Duration.ofMinutes(1));
        long millis = (System.nanoTime() - started) / 1_000_000;
        System.out.printf("neo4j-server ready bolt://%s:%d (started in %d ms)%n", HOST, port, millis);
        System.out.flush();

        if ("1".equals(System.getenv("NEO4J_SERVER_EXIT_ON_STDIN_EOF"))) {
            Thread watcher = new Thread(Neo4jTestServer::exitOnStdinEof, "neo4j-server-stdin-watch");
            watcher.setDaemon(true);
            watcher.start();
        }
        stopped.await();
    }

    /** Blocks until the Bolt port accepts a TCP connection; the DBMS starts Bolt last, but be sure. */
    private static void awaitPort(int port, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress(HOST, port), 1000);
                return;
            } catch (IOException e) {
                if (System.nanoTime() > deadline) {
                    System.err.println("neo4j-server: Bolt port " + port + " does not accept connections: " + e);
                    System.exit(1);
                }
                Thread.sleep(100);
            }
        }
    }

    private static void exitOnStdinEof() {
        try (InputStream in = System.in) {
            byte[] buffer = new byte[256];
            while (in.read(buffer) >= 0) {
                // Discard; only the end of the stream matters.
            }
        } catch (IOException ignored) {
            // A broken stdin means the parent is gone, same as EOF.
        }
        System.out.println("neo4j-server: stdin closed, shutting down");
        System.exit(0);
    }
}
