//! The secret rules as data: one row per pattern, reviewed and extended here, nowhere else.
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
//!    references such as `${TOKEN}`, `%env(API_KEY)%` or `$password` are not findings; values
//!    listed in [`KNOWN_EXAMPLES`], values with an example word (`example`, `your-`, `changeme`,
//!    `xxxx`, `<token>`...), counting runs (`123456789`) and values of one or two repeated
//!    characters are reported as examples.
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
}

/// What a match must also satisfy to be a finding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Check {
    /// The shape is specific enough: only the placeholder tests apply.
    Shape,
    /// A PEM body: it must hold a base64 run of at least 40 characters, so that code which builds
    /// a PEM string (`"-----BEGIN PRIVATE KEY-----\n" + body`) is not a finding.
    PemBody,
    /// Shannon entropy of the value, in bits per character, and a minimum length in bytes.
    Entropy { min_len: usize, min_bits: f64 },
    /// A value assigned to a secret-like name: the name must not end in a word that marks a
    /// non-secret (`password_hash`, `token_type`, `secret_name`, `api_key_id`, `token_url`...);
    /// the value must not be a UUID, a path, a URL or a plain word, and must reach the entropy
    /// bound. An unquoted value must also hold both a letter and a digit. A hex digest (32, 40,
    /// 64 or 128 hex digits) assigned to a password name is a password hash, not a password.
    Assignment { min_len: usize, min_bits: f64 },
    /// The password of a URL (captured with the user as `key`): a well-known placeholder
    /// (`password`, `pass`, `secret`, `!ChangeMe!`, anything holding `pass`, `pwd` or `secret`)
    /// or a password equal to the user name (`guest:guest`, `root:root`: local defaults) is an
    /// example.
    UrlPassword,
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

/// Values that match a rule's shape but are published examples: reported as examples.
pub const KNOWN_EXAMPLES: &[&str] = &[
    // AWS documentation.
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    // The jwt.io sample token's signature (HS256 with the key "your-256-bit-secret").
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    // The TOTP secret in countless tutorials ("Hello!\xDE\xAD\xBE\xEF" in base32).
    "JBSWY3DPEHPK3PXP",
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
        pattern: r"-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----(?:\\[rn]|\s)*((?:[A-Za-z0-9+/=:,\- \t\r\n]|\\[rn])*?)(?:\\[rn]|\s)*-----END[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----",
        check: Check::PemBody,
        notes: "The BEGIN and END lines stay; the body is replaced. A block whose body is a \
                placeholder (`...`, `<key>`) is an example; one without a 40-character base64 \
                run is not a finding. Test keys in fixtures are flagged: they are real keys.",
    },
    Rule {
        id: "private-key",
        description: "A private key block without its END line (truncated, or split across \
                      string literals)",
        scope: Scope::AnyFile,
        keywords: &["PRIVATE KEY"],
        pattern: r#"-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----(?:\\[rn]|[\s"'+,\\])*([A-Za-z0-9+/=]{40,}(?:(?:\\[rn]|[\s"'+,\\])+[A-Za-z0-9+/=]{4,})*)"#,
        check: Check::PemBody,
        notes: "Only the base64 lines right after the BEGIN line are replaced.",
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
        pattern: r#"(?im)aws[A-Za-z0-9_.\-]{0,20}?(?:secret|private)[A-Za-z0-9_.\-]{0,20}?["']?\]?[ \t]*(?::=|=>|=|:)[ \t]*["']?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)"#,
        check: Check::Entropy {
            min_len: 40,
            min_bits: 3.5,
        },
        notes: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY is reported as an example.",
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
        description: "An OpenAI project, service-account, admin or legacy user key",
        scope: Scope::AnyFile,
        keywords: &["sk-proj-", "sk-svcacct-", "sk-admin-", "T3BlbkFJ"],
        pattern: r"\b(sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{40,}|sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})",
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
        pattern: r"(?i)\b(?:postgres(?:ql)?|pgsql|pdo[_\-](?:pgsql|mysql)|mysql[i2]?|mariadb|mongodb(?:\+srv)?|rediss?|valkey|amqps?|mssql|sqlserver|sqlsrv|oracle|oci8|cockroachdb|clickhouse|couchdb|neo4j(?:\+s)?|memcached)://(?P<key>[^\s:/@`'\x22<>]{0,64}):([^\s/@?#`'\x22<>]{1,128})@[^\s/`'\x22<>]",
        check: Check::UrlPassword,
        notes: "Only the password is replaced. Format placeholders (`%s`, `{password}`), \
                references (`${DB_PASSWORD}`, `%env(...)%`) and placeholder passwords \
                (`password`, `pass`, `secret`, `!ChangeMe!`, or the user name again, as in \
                `guest:guest`) are not flagged or are examples. Known false positive: URL-parsing \
                test inputs such as `mongodb://user:&collection=a@localhost`.",
    },
    Rule {
        id: "env-file",
        description: "Every value in a .env file",
        scope: Scope::EnvFile,
        keywords: &[],
        // `KEY=value`, `export KEY=value`, `KEY="multi\nline"`, `KEY='value'`; an unquoted
        // value ends before ` #comment` and trailing blanks.
        pattern: r#"(?m)^[ \t]*(?:export[ \t]+)?[A-Za-z_][A-Za-z0-9_.\-]*[ \t]*=[ \t]*(?:"((?:[^"\\]|\\[\s\S])*)"|'([^']*)'|([^\s"'](?:[^\n]*?[^\s])??)[ \t]*(?:[ \t]#[^\n]*)?$)"#,
        check: Check::EnvValue,
        notes: "`.env.example`, `.env.sample`, `.env.template` and `.env.dist` are templates: \
                only the other rules apply to them. Empty values stay.",
    },
    Rule {
        id: "generic-secret",
        description: "A high-entropy value assigned to a name like password, secret, token or \
                      api_key",
        scope: Scope::AnyFile,
        keywords: &[
            "passw",
            "pwd",
            "secret",
            "token",
            "api_key",
            "api-key",
            "apikey",
            "access_key",
            "access-key",
            "accesskey",
            "auth_key",
            "authkey",
            "private_key",
            "privatekey",
            "credential",
        ],
        // name, optional closing quote or bracket (JSON keys, PHP arrays), an assignment
        // operator on the same line, then a quoted value, or an unquoted one that ends the
        // statement. Comparisons (`==`) are not assignments.
        pattern: r#"(?im)(?P<key>[A-Za-z0-9_.\-]*(?:passw(?:or)?d|pwd|secret|token|api[_.\-]?key|access[_.\-]?key|auth[_.\-]?key|private[_.\-]?key|credentials?)[A-Za-z0-9_.\-]*)["']?\]?[ \t]*(?::=|=>|=|:)[ \t]*(?:"([^"\s\\]{8,200})"|'([^'\s\\]{8,200})'|`([^`\s\\]{8,200})`|(?P<bare>[A-Za-z0-9+/=_.~!@#$%^*\-]{8,200})[ \t]*(?:[,;]|$))"#,
        check: Check::Assignment {
            min_len: 12,
            min_bits: 3.3,
        },
        notes: "Short values (under 12 bytes) and low-entropy ones (`password = \"password\"`, \
                `hunter2hunter2`) are not flagged: a person-chosen password cannot be told \
                from a word. UUIDs, paths, URLs, plain words and password hashes are not \
                flagged; see `Check::Assignment`. Known false positive, measured on symfony: \
                random non-credential values under such names, such as the per-event `token` \
                in Mailgun webhook payloads (test fixtures).",
    },
];
