//! The secret rules as data: one row per pattern, and the lists of example values, placeholder
//! words and non-secret names that the checks consult. Review and extend them here; the scanner
//! in `secrets` holds only the code that applies them.
//!
//! How a row is used (see `secrets::Scanner`):
//!
//! 1. `keywords` are a cheap pre-filter: the row's regex runs on a file only when one of them
//!    occurs in it (ASCII case-insensitive). A row without keywords always runs in its scope.
//! 2. `pattern` is a `regex` crate pattern (linear time, no backtracking). The secret is the first
//!    unnamed capture group that took part in the match, or the whole match when there is none;
//!    only that part is replaced. A group named `key` captures the assigned name, for `check`; a
//!    group named `bare` holds an unquoted value, which [`Check::Assignment`] judges more
//!    strictly, since unquoted text after `name:` is mostly code (`token: SyntaxToken,`).
//! 3. `check` decides, from the matched value, whether it is a secret, a known example (reported
//!    as an example, left in place), or not a finding at all. Every check except
//!    [`Check::EnvValue`] first applies the shared placeholder tests in `secrets::classify_value`:
//!    references such as `${TOKEN}`, `%env(API_KEY)%` or `$password` are not findings. Only
//!    *whole* values are examples: a value listed in [`KNOWN_EXAMPLES`], a value (after a
//!    token's fixed prefix such as `ghp_`) that is one of [`PLACEHOLDER_VALUES`], made only of
//!    [`PLACEHOLDER_WORDS`] (`your-api-key`, `xoxb-your-token-here`), wrapped in `<...>`, a
//!    counting run (`0123456789`), or one or two repeated characters (`xxxx`). A word inside a
//!    longer value never makes it an example (`sk_live_...example` is a secret), so that
//!    `--secrets fail` cannot be passed by a realistic value that happens to hold one.
//! 4. A line holding `ctxpack:allow-secret` (in a comment, say) reports its matches as examples:
//!    the way to keep a known false positive in place.
//!
//! A rule id can have several rows (for instance a complete and a truncated PEM block). Rows are
//! listed from the most specific to the most general: when two matches overlap, the earlier one
//! starting first wins, so a GitHub token in a `.env` file is reported as `github-token`.
//!
//! Known non-secrets that no rule flags, by construction: lock-file hashes (`checksum`,
//! `integrity`, `sha512-...`: their names are not secret-like and no token shape matches them),
//! git SHAs and other bare hex digests, UUIDs (also when assigned to a secret-like name), Stripe
//! publishable keys (`pk_live_`, `pk_test_`: public by design), and password hashes (`$2y$...`,
//! `$argon2id$...`: hashes, not credentials).

/// Where a rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every scanned file.
    AnyFile,
    /// Only `.env` files (see `secrets::is_env_file`).
    EnvFile,
    /// Only files with one of these names (the last path component).
    FileNamed(&'static [&'static str]),
}

/// What a match must also satisfy to be a finding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Check {
    /// The shape is specific enough: only the placeholder tests apply.
    Shape,
    /// A PEM body: it must hold a base64 run of at least 40 characters, so that code which builds
    /// a PEM string (`"-----BEGIN PRIVATE KEY-----\n" + body`) is not a finding.
    PemBody,
    /// A base64 value that must decode to a PEM private key (`-----BEGIN ... PRIVATE KEY-----`);
    /// certificates and public keys decode to other labels and are not findings.
    Base64PrivateKey,
    /// Shannon entropy of the value, in bits per character, and a minimum length in bytes.
    Entropy { min_len: usize, min_bits: f64 },
    /// A value assigned to a secret-like name: the name must not end in a word that marks a
    /// non-secret ([`NOT_SECRET_NAME_ENDINGS`]: `password_hash`, `token_type`, `secret_name`,
    /// `api_key_id`, `token_url`...); the value must not be a UUID, a path, a URL, an identifier
    /// or prose, nor an unsigned JWT, and must reach the entropy bound. An unquoted value must
    /// also hold both a letter and a digit.
    Assignment { min_len: usize, min_bits: f64 },
    /// The password of a URL or connection string: only a whole value in
    /// [`PLACEHOLDER_PASSWORDS`] (`password`, `pass`, `guest`, `!ChangeMe!`...) is an example.
    UrlPassword,
    /// The password of a URL with any other scheme (`https`, `ftp`, and the many DSN schemes of
    /// frameworks): as [`Check::UrlPassword`], and it must also be 8 characters or more and not
    /// an identifier (`LOGIN:PASSWORD@`, `apiKey:apiSecret@` in DSN templates).
    OtherUrlPassword,
    /// A value in a `.env` file: every non-empty value is redacted, example or not.
    EnvValue,
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Shown in `[REDACTED:<id>]` and in every report.
    pub id: &'static str,
    pub description: &'static str,
    pub scope: Scope,
    pub keywords: &'static [&'static str],
    pub pattern: &'static str,
    pub check: Check,
    /// What the rule knowingly does not flag, or reports as an example, and why.
    pub notes: &'static str,
}

/// Values that match a rule's shape but are published examples: reported as examples when the
/// whole matched value is one of them.
pub const KNOWN_EXAMPLES: &[&str] = &[
    // AWS documentation.
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    // The jwt.io sample token (HS256 with the key "your-256-bit-secret"), and its signature.
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    // The TOTP secret in countless tutorials ("Hello!\xDE\xAD\xBE\xEF" in base32).
    "JBSWY3DPEHPK3PXP",
];

/// Whole values (compared without case, after a token's fixed prefix) that are placeholders.
pub const PLACEHOLDER_VALUES: &[&str] = &[
    "changeme",
    "change_me",
    "change-me",
    "!changeme!",
    "changeit",
    "placeholder",
    "redacted",
    "dummy",
    "example",
    "sample",
    "secret",
    "password",
    "token",
    "none",
    "null",
    "todo",
    "tbd",
];

/// Words that make up a placeholder when a value holds nothing else (`your-api-key`,
/// `xoxb-your-token-here`, `replace_with_your_secret`).
pub const PLACEHOLDER_WORDS: &[&str] = &[
    "your",
    "my",
    "the",
    "a",
    "an",
    "this",
    "our",
    "own",
    "real",
    "actual",
    "changeme",
    "change",
    "me",
    "placeholder",
    "dummy",
    "fake",
    "sample",
    "example",
    "redacted",
    "replace",
    "with",
    "insert",
    "put",
    "enter",
    "goes",
    "go",
    "here",
    "todo",
    "secret",
    "password",
    "pass",
    "token",
    "key",
    "api",
    "access",
    "auth",
    "app",
    "client",
    "private",
    "value",
    "test",
    "please",
    "xxx",
    "string",
    "bot",
    "user",
    "personal",
];

/// URL and connection-string passwords that are placeholders or documented defaults of local
/// services (RabbitMQ's `guest:guest`). Whole values only.
pub const PLACEHOLDER_PASSWORDS: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "pwd",
    "secret",
    "changeme",
    "!changeme!",
    "change_me",
    "changeit",
    "test",
    "testing",
    "dummy",
    "example",
    "sample",
    "foo",
    "bar",
    "baz",
    "xxx",
    "***",
    "pa$$word",
    "guest",
];

/// Words that, as the last word of an assigned name, say the value is not a secret:
/// `password_hash`, `token_type`, `secret_name`, `api_key_id`, `auth_token_url`...
pub const NOT_SECRET_NAME_ENDINGS: &[&str] = &[
    "id",
    "ids",
    "url",
    "uri",
    "urls",
    "path",
    "file",
    "filename",
    "dir",
    "name",
    "names",
    "type",
    "types",
    "kind",
    "length",
    "len",
    "size",
    "count",
    "header",
    "headers",
    "field",
    "fields",
    "param",
    "parameter",
    "prefix",
    "suffix",
    "endpoint",
    "env",
    "var",
    "variable",
    "hash",
    "hashed",
    "digest",
    "format",
    "algorithm",
    "alg",
    "mode",
    "policy",
    "provider",
    "manager",
    "storage",
    "ttl",
    "lifetime",
    "expires",
    "expiry",
    "expiration",
    "timeout",
    "limit",
    "min",
    "max",
    "label",
    "hint",
    "message",
    "error",
    "pattern",
    "regex",
    "class",
    "service",
    "generator",
    "handler",
    "strategy",
    "attribute",
    "option",
    "options",
    "template",
    "route",
    "method",
    "enabled",
    "required",
    "version",
    "location",
    "source",
    "store",
    "reset",
    "request",
];

/// The names of the generic rule, as `(word, word)` pairs joined by nothing, `_`, `-` or `.`
/// (`api_key`, `apiKey`, `api.key`...), for its keyword list; a unit test checks that every
/// spelling the pattern allows is a keyword.
pub const KEY_NAME_PAIRS: &[(&str, &str)] = &[
    ("api", "key"),
    ("access", "key"),
    ("auth", "key"),
    ("private", "key"),
    ("signing", "key"),
    ("encryption", "key"),
    ("master", "key"),
    ("session", "key"),
];

/// Most specific first; see the module documentation.
pub const RULES: &[Rule] = &[
    Rule {
        id: "private-key",
        description: "A PEM or OpenSSH private key block (RSA, EC, DSA, OpenSSH, PKCS#8, PGP)",
        scope: Scope::AnyFile,
        keywords: &["PRIVATE KEY"],
        // The body between the BEGIN and END lines, also inside a JSON or code string where line
        // breaks are written `\n`. Only PEM characters may appear in between, so code that merely
        // mentions both markers is not swallowed whole.
        pattern: r"-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----(?:\\[rn]|\s)*((?:[A-Za-z0-9+/=:,\-#*>;!%|& \t\r\n]|\\[rn])*?)(?:\\[rn]|\s)*-----END[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----",
        check: Check::PemBody,
        notes: "The BEGIN and END lines stay; the body is replaced, with any line prefixes \
                (`# `, ` * `, `> `) and `&#xA;` line breaks in it. A block whose body is a \
                placeholder (`...`, `<key>`) is an example; one without a 40-character base64 \
                run is not a finding. Test keys in fixtures are flagged: they are real keys.",
    },
    Rule {
        id: "private-key",
        description: "A private key block without its END line (truncated, or split across \
                      string literals)",
        scope: Scope::AnyFile,
        keywords: &["PRIVATE KEY"],
        pattern: r#"-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----(?:\\[rn]|&#x[aAdD];|&#1[03];|[\s"'+,\\#*>;!%|])*([A-Za-z0-9+/=]{40,}(?:(?:\\[rn]|&#x[aAdD];|&#1[03];|[\s"'+,\\#*>;!%|])+[A-Za-z0-9+/=]{4,})*)"#,
        check: Check::PemBody,
        notes: "Only the base64 lines right after the BEGIN line are replaced.",
    },
    Rule {
        id: "private-key",
        description: "A base64-wrapped PEM private key (Kubernetes `tls.key:`, kubeconfig \
                      `client-key-data:`)",
        scope: Scope::AnyFile,
        keywords: &["LS0tLS1CRUdJTi"],
        // `LS0tLS1CRUdJTi` is the base64 of `-----BEGIN`.
        pattern: r"\b(LS0tLS1CRUdJTi[A-Za-z0-9+/]{40,}={0,2})",
        check: Check::Base64PrivateKey,
        notes: "Base64 certificates and public keys (`LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t`) \
                decode to other labels and are not flagged.",
    },
    Rule {
        id: "private-key",
        description: "The private lines of a PuTTY key file (.ppk, versions 2 and 3)",
        scope: Scope::AnyFile,
        keywords: &["Private-Lines"],
        pattern: r"(?m)^Private-Lines:[ \t]*[0-9]+\r?\n((?:[A-Za-z0-9+/=]+\r?\n)*[A-Za-z0-9+/=]+)\r?$",
        check: Check::PemBody,
        notes: "The public lines and the MAC stay.",
    },
    Rule {
        id: "gcp-service-account",
        description: "The private key or key id of a Google Cloud service-account JSON file",
        scope: Scope::AnyFile,
        keywords: &["\"private_key"],
        pattern: r#""private_key(?:_id)?"\s*:\s*"(-----BEGIN[^"]{40,}|[0-9a-f]{40})""#,
        check: Check::Shape,
        notes: "`client_email`, `client_id` and `project_id` are identifiers and stay.",
    },
    Rule {
        id: "gcp-api-key",
        description: "A Google API key",
        scope: Scope::AnyFile,
        keywords: &["AIza"],
        pattern: r"\b(AIza[0-9A-Za-z_\-]{35})(?:[^0-9A-Za-z_\-]|$)",
        check: Check::Shape,
        notes:
            "Browser keys are often public by design (restricted by referrer), but are flagged: \
                the scanner cannot see the restriction.",
    },
    Rule {
        id: "aws-access-key-id",
        description: "An AWS access key id (long-term AKIA, temporary ASIA, and ABIA, ACCA)",
        scope: Scope::AnyFile,
        keywords: &["AKIA", "ASIA", "ABIA", "ACCA"],
        pattern: r"\b((?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16})\b",
        check: Check::Shape,
        notes: "AKIAIOSFODNN7EXAMPLE, from AWS's documentation, is reported as an example. IAM \
                ids of other kinds (AIDA, AROA...) are identifiers, not credentials.",
    },
    Rule {
        id: "aws-secret-access-key",
        description: "An AWS secret access key assigned to an aws...secret/private...key name",
        scope: Scope::AnyFile,
        keywords: &["aws"],
        // The separator may also be a blank (`aws configure set aws_secret_access_key X`) or a
        // comma after a quoted name (`("aws_secret_access_key", "X")`).
        pattern: r#"(?im)aws[A-Za-z0-9_.\-]{0,20}?(?:secret|private)[A-Za-z0-9_.\-]{0,20}?(?:["']?\]?[ \t]*(?::=|=>|=|:)|["'][ \t]*,|[ \t]+)[ \t]*["']?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)"#,
        check: Check::Entropy {
            min_len: 40,
            min_bits: 3.5,
        },
        notes: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY is reported as an example.",
    },
    Rule {
        id: "aws-secret-access-key",
        description: "An AWS secret key passed right after an access key id \
                      (`Credentials(\"AKIA...\", \"secret\")`)",
        scope: Scope::AnyFile,
        keywords: &["AKIA", "ASIA"],
        pattern: r#"\b(?:AKIA|ASIA)[A-Z0-9]{16}["']?[ \t]*,[ \t\r\n]*["']([A-Za-z0-9/+]{40})["']"#,
        check: Check::Entropy {
            min_len: 40,
            min_bits: 3.5,
        },
        notes: "Positional arguments: the id is reported by `aws-access-key-id`.",
    },
    Rule {
        id: "aws-session-token",
        description: "An AWS session token (STS temporary credentials)",
        scope: Scope::AnyFile,
        keywords: &[
            "IQoJb3JpZ2luX2Vj",
            "FwoGZXIvYXdzE",
            "FQoGZXIvYXdzE",
            "session_token",
            "sessiontoken",
        ],
        // By the base64 prefix every token has, or assigned to an aws...session...token name.
        pattern: r#"(?i:\b((?-i:IQoJb3JpZ2luX2Vj|FwoGZXIvYXdzE|FQoGZXIvYXdzE)[A-Za-z0-9/+=]{80,})|aws_?session_?token["']?\]?[ \t]*(?::=|=>|=|:|[ \t])[ \t]*["']?([A-Za-z0-9/+=]{80,}))"#,
        check: Check::Shape,
        notes: "Session tokens are several hundred characters; shorter values are not flagged.",
    },
    Rule {
        id: "github-token",
        description: "A GitHub personal, OAuth, user-to-server, server-to-server or refresh token",
        scope: Scope::AnyFile,
        keywords: &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
        pattern: r"\b((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{82,})\b",
        check: Check::Shape,
        notes: "`ghp_` followed by 36 `x` (or any one repeated character) is an example.",
    },
    Rule {
        id: "gitlab-token",
        description: "A GitLab personal, deploy, runner, trigger, feed or CI job token",
        scope: Scope::AnyFile,
        keywords: &[
            "glpat-", "gldt-", "glrt-", "glptt-", "glft-", "glcbt-", "glimt-", "glsoat-",
        ],
        pattern: r"\b((?:glpat|gldt|glrt|glptt|glft|glcbt|glimt|glsoat)-[A-Za-z0-9_\-]{20,})",
        check: Check::Shape,
        notes: "`glpat-xxxxxxxxxxxxxxxxxxxx` style placeholders are examples.",
    },
    Rule {
        id: "slack-token",
        description: "A Slack bot, user, app, refresh or configuration token",
        scope: Scope::AnyFile,
        keywords: &[
            "xoxb-", "xoxp-", "xoxa-", "xoxo-", "xoxr-", "xoxs-", "xoxe", "xapp-",
        ],
        pattern: r"\b((?:xox[abposr]|xoxe(?:\.xox[bp])?|xapp)-[0-9A-Za-z\-]{10,})",
        check: Check::Shape,
        notes: "`xoxb-your-token` style placeholders are examples.",
    },
    Rule {
        id: "slack-webhook",
        description: "A Slack incoming-webhook or workflow URL (the path is the secret)",
        scope: Scope::AnyFile,
        keywords: &["hooks.slack.com"],
        pattern: r"hooks\.slack\.com/(?:services|workflows|triggers)/([A-Za-z0-9+/_\-]{20,})",
        check: Check::Shape,
        notes: "The path is the secret: the host alone is not flagged.",
    },
    Rule {
        id: "stripe-key",
        description: "A Stripe secret or restricted key (live or test mode) or webhook secret",
        scope: Scope::AnyFile,
        keywords: &["sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_"],
        pattern: r"\b((?:sk|rk)_(?:live|test)_[0-9A-Za-z]{20,247}|whsec_[0-9A-Za-z]{32,})\b",
        check: Check::Shape,
        notes: "Test-mode keys are flagged: they open the account's test data. Publishable \
                keys (`pk_live_`, `pk_test_`) are public by design and not flagged.",
    },
    Rule {
        id: "anthropic-key",
        description: "An Anthropic API or admin key",
        scope: Scope::AnyFile,
        keywords: &["sk-ant-"],
        pattern: r"\b(sk-ant-(?:api|admin|oat|ort)[0-9]{2}-[A-Za-z0-9_\-]{80,})",
        check: Check::Shape,
        notes: "`sk-ant-api03-...` placeholders do not match (too short); repeated characters are \
                examples.",
    },
    Rule {
        id: "openai-key",
        description: "An OpenAI project, service-account, admin, user (`sk-None-`) or legacy key",
        scope: Scope::AnyFile,
        keywords: &["sk-proj-", "sk-svcacct-", "sk-admin-", "sk-None-", "T3BlbkFJ"],
        pattern: r"\b(sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_\-]{40,}|sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})",
        check: Check::Shape,
        notes: "`T3BlbkFJ` is base64 for \"OpenAI\", part of every legacy key.",
    },
    Rule {
        id: "npm-token",
        description: "An npm access token",
        scope: Scope::AnyFile,
        keywords: &["npm_"],
        pattern: r"\b(npm_[A-Za-z0-9]{36})\b",
        check: Check::Shape,
        notes:
            "`npm_` variable names (`npm_config_cache`) do not match: the token part has no `_`.",
    },
    Rule {
        id: "npm-token",
        description: "An `_authToken` or `_auth` value in an .npmrc or .yarnrc",
        scope: Scope::AnyFile,
        keywords: &["_auth"],
        pattern: r#"(?m)(?:^|[\s:/])_auth(?:Token)?[ \t]*[=:][ \t]*["']?([^\s"'#]{8,})"#,
        check: Check::Shape,
        notes: "`${NPM_TOKEN}` references are not findings.",
    },
    Rule {
        id: "pypi-token",
        description: "A PyPI or TestPyPI API token",
        scope: Scope::AnyFile,
        keywords: &["pypi-AgE"],
        pattern: r"\b(pypi-AgE(?:IcHlwaS5vcmc|NdGVzdC5weXBpLm9yZw)[A-Za-z0-9_\-]{50,})",
        check: Check::Shape,
        notes: "The fixed prefix is the base64 of the macaroon's location, pypi.org or \
                test.pypi.org.",
    },
    Rule {
        id: "jwt",
        description: "A signed JSON Web Token (header, payload and signature)",
        scope: Scope::AnyFile,
        keywords: &["eyJ"],
        pattern: r"\b(eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{16,})",
        check: Check::Shape,
        notes: "Unsigned tokens (`alg: none`, empty signature) are not credentials and not \
                flagged. The jwt.io sample token is reported as an example. Test JWTs signed \
                with throwaway keys are flagged: the scanner cannot tell them from real ones.",
    },
    Rule {
        id: "database-url",
        description: "The password in a database, cache or message-broker URL \
                      (scheme://user:password@host)",
        scope: Scope::AnyFile,
        keywords: &[
            "postgres",
            "pgsql",
            "mysql",
            "mariadb",
            "mongodb",
            "redis",
            "valkey",
            "amqp",
            "mssql",
            "sqlserver",
            "sqlsrv",
            "oracle",
            "oci8",
            "cockroach",
            "clickhouse",
            "couchdb",
            "neo4j",
            "memcached",
        ],
        pattern: r"(?i)\b(?:postgres(?:ql)?|pgsql|pdo[_\-](?:pgsql|mysql)|mysql[i2]?|mariadb|mongodb(?:\+srv)?|rediss?|valkey|amqps?|mssql|sqlserver|sqlsrv|oracle|oci8|cockroachdb|clickhouse|couchdb|neo4j(?:\+s)?|memcached)(?:\+[A-Za-z0-9_]+)?://(?P<key>[^\s:/@`'\x22<>]{0,64}):([^\s/@?#`'\x22<>]{1,128})@[^\s/`'\x22<>]",
        check: Check::UrlPassword,
        notes: "Only the password is replaced; driver suffixes (`postgresql+asyncpg://`) are \
                read. Format placeholders (`%s`, `{password}`) and references \
                (`${DB_PASSWORD}`, `%env(...)%`) are not flagged; whole placeholder passwords \
                (`password`, `pass`, `guest`, `!ChangeMe!`) are examples. Known false positive: \
                URL-parsing test inputs such as `mongodb://user:&collection=a@localhost`.",
    },
    Rule {
        id: "database-url",
        description: "The password in a Go MySQL DSN (`user:password@tcp(host)/db`)",
        scope: Scope::AnyFile,
        keywords: &["@tcp(", "@unix(", "@udp("],
        pattern: r#"(?P<key>[A-Za-z0-9_.\-]{1,64}):([^\s/@:"'`]{1,128})@(?:tcp|unix|udp)\("#,
        check: Check::UrlPassword,
        notes: "As for database URLs.",
    },
    Rule {
        id: "database-url",
        description: "The password in an ADO.NET or ODBC connection string \
                      (`Server=...;Password=...;`)",
        scope: Scope::AnyFile,
        keywords: &["passw", "pwd"],
        pattern: r#"(?im)\b(?:server|data source|datasource|host|address|addr)[ \t]*=[^;\r\n"']*;[^\r\n]*?\b(?:password|pwd)[ \t]*=[ \t]*([^;"'\r\n]+?)[ \t]*(?:;|["']|$)"#,
        check: Check::UrlPassword,
        notes: "Needs a server key before the password, so that other `password=` text is left \
                to `generic-secret`.",
    },
    Rule {
        id: "url-password",
        description: "The password in any other URL with credentials (`https://user:pw@host`, \
                      `ftp://`, `git-credentials` lines)",
        scope: Scope::AnyFile,
        keywords: &["://"],
        pattern: r"(?i)\b[a-z][a-z0-9+.\-]{1,20}://(?P<key>[^\s:/@`'\x22<>]{0,64}):([^\s/@?#`'\x22<>]{1,128})@[^\s/`'\x22<>]",
        check: Check::OtherUrlPassword,
        notes: "Database schemes are reported as `database-url` (listed first). Whole \
                placeholder passwords are examples. Not flagged: passwords under 8 characters \
                and identifiers, which are what DSN templates and URL-parsing tests hold \
                (measured on symfony: 121 findings before this bound, nearly all such).",
    },
    Rule {
        id: "credential-file",
        description: "The password in a .netrc (`machine h login u password p`)",
        scope: Scope::FileNamed(&[".netrc", "_netrc"]),
        keywords: &["password"],
        pattern: r"(?m)\bpassword[ \t]+(\S+)",
        check: Check::Shape,
        notes: "Every value is redacted, as in .env files.",
    },
    Rule {
        id: "credential-file",
        description: "The password field of a .pgpass line (`host:port:db:user:password`)",
        scope: Scope::FileNamed(&[".pgpass", "pgpass.conf"]),
        keywords: &[],
        pattern: r"(?m)^[^#\n:]*:[^\n:]*:[^\n:]*:[^\n:]*:(.+?)\r?$",
        check: Check::Shape,
        notes: "Every password is redacted.",
    },
    Rule {
        id: "credential-file",
        description: "An `auth` value in a Docker config.json (base64 of user:password)",
        scope: Scope::AnyFile,
        keywords: &["\"auth\""],
        pattern: r#""auth"[ \t]*:[ \t]*"([A-Za-z0-9+/]{12,}={0,2})""#,
        check: Check::Entropy {
            min_len: 12,
            min_bits: 3.0,
        },
        notes: "Also in any JSON with an `auth` key holding base64.",
    },
    Rule {
        id: "env-file",
        description: "Every value in a .env file",
        scope: Scope::EnvFile,
        keywords: &[],
        // Fail safe: on every line that is not blank or a comment, everything after the first
        // `=` or `:` is the value (`KEY=value`, `export KEY=value`, `KEY: value`, `KEY+=value`).
        // A quoted value (which may span lines) loses only its inside; an unquoted one keeps a
        // ` #comment` after it; an unterminated quote is redacted with the rest of the line.
        pattern: r#"(?m)^[ \t]*[^#\s=:][^=:\n]*?[ \t]*\+?[=:][ \t]*(?:"((?:[^"\\]|\\[\s\S])*)"[ \t]*(?:#[^\n]*)?$|'([^']*)'[ \t]*(?:#[^\n]*)?$|([^\s](?:[^\n]*?[^\s])??)[ \t]*(?:[ \t]#[^\n]*)?$)"#,
        check: Check::EnvValue,
        notes: "`.env.example`, `.env.sample`, `.env.template` and `.env.dist` are templates: \
                only the other rules apply to them. Empty values stay. Lines without `=` or `:` \
                hold no value.",
    },
    Rule {
        id: "generic-secret",
        description: "A high-entropy value assigned to a name like password, secret, token or \
                      api_key",
        scope: Scope::AnyFile,
        keywords: &[
            "pass",
            "pwd",
            "secret",
            "token",
            "credential",
            "apikey",
            "api_key",
            "api-key",
            "api.key",
            "accesskey",
            "access_key",
            "access-key",
            "access.key",
            "authkey",
            "auth_key",
            "auth-key",
            "auth.key",
            "privatekey",
            "private_key",
            "private-key",
            "private.key",
            "signingkey",
            "signing_key",
            "signing-key",
            "signing.key",
            "encryptionkey",
            "encryption_key",
            "encryption-key",
            "encryption.key",
            "masterkey",
            "master_key",
            "master-key",
            "master.key",
            "sessionkey",
            "session_key",
            "session-key",
            "session.key",
        ],
        // name, optional closing quote or bracket (JSON keys, PHP arrays) and type (`: &str`,
        // ` string`), an assignment operator on the same line (or a comma after a quoted name,
        // as in PHP's `define('AUTH_KEY', '...')`), then a quoted value, or an unquoted one that
        // ends the statement or is followed by a comment. Comparisons (`==`) are not
        // assignments.
        pattern: r#"(?im)(?P<key>[A-Za-z0-9_.\-]*(?:passw(?:or)?d|pass(?:phrase)?|pwd|secret|token|credentials?|(?:api|access|auth|private|signing|encryption|master|session)[_.\-]?key)[A-Za-z0-9_.\-]*)(?:["'][ \t]*,|["']?\]?(?:[ \t]*:?[ \t]*&?(?:'static[ \t]+)?(?:str|string)\b)?[ \t]*(?::=|=>|=|:))[ \t]*(?:"((?:[^"\\\n]|\\/){8,})"|'([^'\\\n]{8,})'|`([^`\\\n]{8,})`|(?P<bare>[A-Za-z0-9+/=_.~!@#$%^*\-]{8,})[ \t]*(?:[,;]|[ \t]#[^\n]*$|$))"#,
        check: Check::Assignment {
            min_len: 12,
            min_bits: 3.3,
        },
        notes: "`pass` counts only as a word of the name (`DB_PASS`, `smtpPass`, not \
                `bypass`). Short values (under 12 bytes) and low-entropy ones (`password = \"password\"`, \
                `hunter2hunter2`) are not flagged: a person-chosen password cannot be told \
                from a word, nor can a passphrase of plain words. UUIDs, paths, URLs, \
                identifiers, prose, all-lowercase letters and password hashes (`$2y$...`) are not \
                flagged; see `Check::Assignment`. Hex values are flagged (a hex password is a \
                password; a stored hash is named `..._hash`). Known false positive, measured on symfony: \
                random non-credential values under such names, such as the per-event `token` \
                in Mailgun webhook payloads (test fixtures).",
    },
    Rule {
        id: "generic-secret",
        description: "A secret-like name and value in other syntaxes: URL query parameters, XML \
                      elements, Terraform variable defaults, Kubernetes env entries, Dockerfile \
                      ENV and ARG",
        scope: Scope::AnyFile,
        keywords: &[
            "pass",
            "pwd",
            "secret",
            "token",
            "credential",
            "apikey",
            "api_key",
            "api-key",
            "api.key",
            "accesskey",
            "access_key",
            "access-key",
            "access.key",
            "authkey",
            "auth_key",
            "auth-key",
            "auth.key",
            "privatekey",
            "private_key",
            "private-key",
            "private.key",
            "signingkey",
            "signing_key",
            "signing-key",
            "signing.key",
            "encryptionkey",
            "encryption_key",
            "encryption-key",
            "encryption.key",
            "masterkey",
            "master_key",
            "master-key",
            "master.key",
            "sessionkey",
            "session_key",
            "session-key",
            "session.key",
        ],
        pattern: r#"(?im)(?:[?&](?P<key>[A-Za-z0-9_.\-]*(?:passw(?:or)?d|pass(?:phrase)?|pwd|secret|token|credentials?|(?:api|access|auth|private|signing|encryption|master|session)[_.\-]?key)[A-Za-z0-9_.\-]*)=([^&#\s"'<>]{8,})|<(?P<key2>[A-Za-z0-9_.\-]*(?:passw(?:or)?d|pass(?:phrase)?|pwd|secret|token|credentials?|(?:api|access|auth|private|signing|encryption|master|session)[_.\-]?key)[A-Za-z0-9_.\-]*)>([^<\s]{8,})</|variable[ \t]+"(?P<key3>[A-Za-z0-9_.\-]*(?:passw(?:or)?d|pass(?:phrase)?|pwd|secret|token|credentials?|(?:api|access|auth|private|signing|encryption|master|session)[_.\-]?key)[A-Za-z0-9_.\-]*)"[ \t]*\{[^}]*?\bdefault[ \t]*=[ \t]*"([^"\n]{8,})"|name:[ \t]*["']?(?P<key4>[A-Za-z0-9_.\-]*(?:passw(?:or)?d|pass(?:phrase)?|pwd|secret|token|credentials?|(?:api|access|auth|private|signing|encryption|master|session)[_.\-]?key)[A-Za-z0-9_.\-]*)["']?[ \t]*\r?\n[ \t]*value:[ \t]*["']?([^"'\s#]{8,})|^[ \t]*(?:ENV|ARG)[ \t]+(?P<key5>[A-Za-z0-9_.\-]*(?:passw(?:or)?d|pass(?:phrase)?|pwd|secret|token|credentials?|(?:api|access|auth|private|signing|encryption|master|session)[_.\-]?key)[A-Za-z0-9_.\-]*)[ \t]+([^\s=]\S{7,})[ \t]*$)"#,
        check: Check::Assignment {
            min_len: 12,
            min_bits: 3.3,
        },
        notes: "Judged as the assignments above.",
    },
];
