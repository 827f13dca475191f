package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/telemetryd/telemetryd/auth"
	"github.com/telemetryd/telemetryd/internal/cli"
	"github.com/telemetryd/telemetryd/server"
)

// envName is the environment variable of a flag: --neo4j-uri reads
// TELEMETRYD_NEO4J_URI.
func envName(flag string) string {
	return "TELEMETRYD_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// withEnv lets each named flag be set from its environment variable.
func withEnv(fs *pflag.FlagSet, names ...string) {
	for _, name := range names {
		cli.WithEnv(fs, name, envName(name))
	}
}

// storeConfig chooses and reaches the store; every command that opens the
// store shares it.
type storeConfig struct {
	DataDir       string
	Neo4jURI      string
	Neo4jUsername string
	Neo4jPassword string
	Neo4jDatabase string
}

func (c *storeConfig) register(fs *pflag.FlagSet) {
	fs.StringVar(&c.DataDir, "data-dir", "./data", "directory of the embedded store, used when --neo4j-uri is empty")
	fs.StringVar(&c.Neo4jURI, "neo4j-uri", "", "Neo4j URI (bolt://, neo4j://, neo4j+s://, …); empty uses the embedded store")
	fs.StringVar(&c.Neo4jUsername, "neo4j-username", "neo4j", "Neo4j user")
	fs.StringVar(&c.Neo4jPassword, "neo4j-password", "", "Neo4j password")
	fs.StringVar(&c.Neo4jDatabase, "neo4j-database", "neo4j", "Neo4j database")
	withEnv(fs, "data-dir", "neo4j-uri", "neo4j-username", "neo4j-password", "neo4j-database")
}

var neo4jSchemes = []string{"bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc"}

func (c *storeConfig) validate() error {
	if c.Neo4jURI == "" {
		if c.DataDir == "" {
			return fmt.Errorf("--data-dir must not be empty when --neo4j-uri is not set")
		}
		return nil
	}
	u, err := url.Parse(c.Neo4jURI)
	if err != nil || u.Host == "" || !slices.Contains(neo4jSchemes, u.Scheme) {
		// The URI is not repeated: it may hold a password.
		return fmt.Errorf("--neo4j-uri must be a URI with a host and one of the schemes %s", strings.Join(neo4jSchemes, ", "))
	}
	if c.Neo4jDatabase == "" {
		return fmt.Errorf("--neo4j-database must not be empty")
	}
	return nil
}

// logConfig shapes the structured logs.
type logConfig struct {
	Format string
	Level  slog.Level
}

func (c *logConfig) register(fs *pflag.FlagSet) {
	fs.StringVar(&c.Format, "log-format", "text", "log format: text or json")
	fs.TextVar(&c.Level, "log-level", slog.LevelInfo, "log level: debug, info, warn or error")
	withEnv(fs, "log-format", "log-level")
}

func (c *logConfig) validate() error {
	if c.Format != "text" && c.Format != "json" {
		return fmt.Errorf("--log-format %q must be text or json", c.Format)
	}
	return nil
}

// serveConfig is everything `telemetryd serve` needs.
type serveConfig struct {
	Store storeConfig
	Log   logConfig

	Listen             string
	AdminPassword      string
	JWTSecret          string
	AccessTokenTTL     time.Duration
	TelemetryRemote    bool
	TelemetryEndpoint  string
	TelemetryTimeout   time.Duration
	TelemetrySchedule  timeOfDay
	TelemetryRetention days
	TrustedProxies     server.TrustedProxies
	Receive            bool
	ReceiveKey         string
}

// minReceiveKeyLength keeps receive keys out of guessing range.
const minReceiveKeyLength = 16

// DefaultTelemetryEndpoint is the project's receiver of remote snapshots.
const DefaultTelemetryEndpoint = "https://telemetry.telemetryd.io/v1/snapshots"

func (c *serveConfig) register(fs *pflag.FlagSet) {
	c.Store.register(fs)
	c.Log.register(fs)
	c.TelemetrySchedule = timeOfDay(2 * time.Hour)
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:8080", "address to serve HTTP on")
	fs.StringVar(&c.AdminPassword, "admin-password", "", "password of the built-in admin account at first start; empty generates one and prints it once")
	fs.StringVar(&c.JWTSecret, "jwt-secret", "", "secret signing access tokens; empty generates one at first start and keeps it in the store")
	fs.DurationVar(&c.AccessTokenTTL, "access-token-ttl", 15*time.Minute, "lifetime of access tokens")
	fs.BoolVar(&c.TelemetryRemote, "telemetry-remote", false, "send each snapshot to --telemetry-endpoint (DO_NOT_TRACK=1 forces this off)")
	fs.StringVar(&c.TelemetryEndpoint, "telemetry-endpoint", DefaultTelemetryEndpoint, "URL receiving remote snapshots (https, or http on loopback)")
	fs.DurationVar(&c.TelemetryTimeout, "telemetry-timeout", 10*time.Second, "time limit of one remote send")
	fs.Var(&c.TelemetrySchedule, "telemetry-schedule", "UTC time of day (HH:MM) of the daily snapshot, plus a per-deployment jitter of 0-59 minutes")
	fs.Var(&c.TelemetryRetention, "telemetry-retention", "delete snapshots older than this after each run, in days (e.g. 1825d); 0 keeps them forever")
	fs.Var(&c.TrustedProxies, "trusted-proxies", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For names the client (default none)")
	fs.BoolVar(&c.Receive, "receive", false, "also accept other deployments' snapshots on POST /v1/snapshots")
	fs.StringVar(&c.ReceiveKey, "receive-key", "", "with --receive, the key senders must present (Authorization: Bearer <key>, or as basic-auth password); empty accepts any sender")
	withEnv(fs, "listen", "admin-password", "jwt-secret", "access-token-ttl", "telemetry-remote",
		"telemetry-endpoint", "telemetry-timeout", "telemetry-schedule", "telemetry-retention", "trusted-proxies", "receive", "receive-key")
}

func (c *serveConfig) validate() error {
	if err := c.Store.validate(); err != nil {
		return err
	}
	if err := c.Log.validate(); err != nil {
		return err
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("--listen %q must be host:port: %v", c.Listen, err)
	}
	if c.AdminPassword != "" {
		if err := auth.ValidatePassword(c.AdminPassword); err != nil {
			return fmt.Errorf("--admin-password: %v", err)
		}
	}
	if c.JWTSecret != "" && len(c.JWTSecret) < auth.MinSecretLength {
		return fmt.Errorf("--jwt-secret must be at least %d bytes", auth.MinSecretLength)
	}
	if c.AccessTokenTTL <= 0 {
		return fmt.Errorf("--access-token-ttl must be positive")
	}
	if c.TelemetryTimeout <= 0 {
		return fmt.Errorf("--telemetry-timeout must be positive")
	}
	if c.ReceiveKey != "" && !c.Receive {
		return fmt.Errorf("--receive-key needs --receive")
	}
	if c.ReceiveKey != "" && len(c.ReceiveKey) < minReceiveKeyLength {
		// The key itself is not repeated: it is a secret.
		return fmt.Errorf("--receive-key must be at least %d characters", minReceiveKeyLength)
	}
	return nil
}

// timeOfDay is a UTC time of day, as the duration since midnight.
type timeOfDay time.Duration

func (t *timeOfDay) String() string {
	d := time.Duration(*t)
	return fmt.Sprintf("%02d:%02d", int(d.Hours()), int(d.Minutes())%60)
}

func (t *timeOfDay) Set(s string) error {
	parsed, err := time.Parse("15:04", s)
	if err != nil {
		return fmt.Errorf("want HH:MM, such as 02:00")
	}
	*t = timeOfDay(time.Duration(parsed.Hour())*time.Hour + time.Duration(parsed.Minute())*time.Minute)
	return nil
}

func (t *timeOfDay) Type() string { return "HH:MM" }

// maxRetentionDays keeps a retention period far from overflowing a
// time.Duration, which would turn it into a short one.
const maxRetentionDays = 36500

// days is a retention period in whole days: "1825d", or "0" for forever.
type days int

func (d *days) String() string {
	if *d == 0 {
		return "0"
	}
	return strconv.Itoa(int(*d)) + "d"
}

func (d *days) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
	if err != nil || n < 0 || (n > 0 && !strings.HasSuffix(s, "d")) {
		return fmt.Errorf("want a number of days such as 1825d, or 0 to keep forever")
	}
	if n > maxRetentionDays {
		return fmt.Errorf("at most %dd (100 years)", maxRetentionDays)
	}
	*d = days(n)
	return nil
}

func (d *days) Type() string { return "days" }

// Duration returns the period as a time.Duration; 0 means keep forever.
func (d days) Duration() time.Duration { return time.Duration(d) * 24 * time.Hour }
