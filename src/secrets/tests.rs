use super::*;

/// A deterministic, obviously synthetic value: `len` characters from `alphabet`.
fn fake(seed: u64, alphabet: &str, len: usize) -> String {
    let chars: Vec<char> = alphabet.chars().collect();
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chars[(state % chars.len() as u64) as usize]
        })
        .collect()
}

const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPPER_DIGITS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const BASE64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URLSAFE: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const HEX: &str = "0123456789abcdef";

fn redact(path: &str, text: &str) -> (String, Vec<Finding>) {
    let r = Scanner::get().redact(path, text);
    (r.text.into_owned(), r.findings)
}

fn secrets_of(findings: &[Finding]) -> Vec<&'static str> {
    findings
        .iter()
        .filter(|f| f.is_secret())
        .map(|f| f.rule)
        .collect()
}

fn pem(label: &str, seed: u64) -> (String, String) {
    let body: Vec<String> = (0..5).map(|i| fake(seed + i, BASE64, 64)).collect();
    let body = body.join("\n");
    (
        format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n"),
        body,
    )
}

/// One planted secret per rule row, with the value that must disappear.
fn planted() -> Vec<(&'static str, String, String, &'static str)> {
    let mut cases = Vec::new();
    let (block, body) = pem("RSA PRIVATE KEY", 1);
    cases.push(("key.pem", block, body, "private-key"));
    let truncated = fake(2, BASE64, 64);
    cases.push((
        "k.py",
        format!("KEY = \"-----BEGIN OPENSSH PRIVATE KEY-----\\n\" \\\n    \"{truncated}\\n\"\n"),
        truncated,
        "private-key",
    ));
    let gcp_body = fake(3, BASE64, 120);
    cases.push((
        "sa.json",
        format!(
            "{{\n  \"type\": \"service_account\",\n  \"private_key\": \"-----BEGIN PRIVATE KEY-----\\n{gcp_body}\\n-----END PRIVATE KEY-----\\n\"\n}}\n"
        ),
        gcp_body,
        "gcp-service-account",
    ));
    let key_id = fake(4, HEX, 40);
    cases.push((
        "sa2.json",
        format!("{{\"private_key_id\": \"{key_id}\"}}\n"),
        key_id,
        "gcp-service-account",
    ));
    let google = format!("AIza{}", fake(5, URLSAFE, 35));
    cases.push((
        "maps.js",
        format!("const k = '{google}';\n"),
        google,
        "gcp-api-key",
    ));
    let akia = format!("AKIA{}", fake(6, UPPER_DIGITS, 16));
    cases.push((
        "aws.sh",
        format!("export ID={akia}\n"),
        akia,
        "aws-access-key-id",
    ));
    let aws_secret = fake(7, BASE64, 40);
    cases.push((
        "credentials",
        format!("[default]\naws_secret_access_key = {aws_secret}\n"),
        aws_secret,
        "aws-secret-access-key",
    ));
    let ghp = format!("ghp_{}", fake(8, ALNUM, 36));
    cases.push(("gh.yaml", format!("token: {ghp}\n"), ghp, "github-token"));
    let pat = format!("github_pat_{}", fake(9, ALNUM, 82));
    cases.push(("gh.txt", format!("{pat}\n"), pat, "github-token"));
    let glpat = format!("glpat-{}", fake(10, ALNUM, 20));
    cases.push((
        "gl.tf",
        format!("token = \"{glpat}\"\n"),
        glpat,
        "gitlab-token",
    ));
    let xoxb = format!(
        "xoxb-{}-{}",
        fake(11, "0123456789", 12),
        fake(12, ALNUM, 24)
    );
    cases.push((
        "slack.py",
        format!("SLACK = '{xoxb}'\n"),
        xoxb,
        "slack-token",
    ));
    let hook = format!(
        "T{}/B{}/{}",
        fake(13, UPPER_DIGITS, 8),
        fake(14, UPPER_DIGITS, 8),
        fake(15, ALNUM, 24)
    );
    cases.push((
        "hook.sh",
        format!("curl https://hooks.slack.com/services/{hook}\n"),
        hook,
        "slack-webhook",
    ));
    let stripe = format!("sk_live_{}", fake(16, ALNUM, 24));
    cases.push((
        "pay.rb",
        format!("Stripe.api_key = \"{stripe}\"\n"),
        stripe,
        "stripe-key",
    ));
    let ant = format!("sk-ant-api03-{}", fake(17, URLSAFE, 93));
    cases.push((
        "ai.py",
        format!("client = Anthropic(api_key=\"{ant}\")\n"),
        ant,
        "anthropic-key",
    ));
    let openai = format!("sk-proj-{}", fake(18, URLSAFE, 64));
    cases.push((
        "ai.js",
        format!("const key = \"{openai}\";\n"),
        openai,
        "openai-key",
    ));
    let legacy = format!("sk-{}T3BlbkFJ{}", fake(19, ALNUM, 20), fake(20, ALNUM, 20));
    cases.push(("ai2.js", format!("key={legacy}\n"), legacy, "openai-key"));
    let npm = format!("npm_{}", fake(21, ALNUM, 36));
    cases.push(("ci.yml", format!("NPM: {npm}\n"), npm, "npm-token"));
    let npmrc = fake(22, ALNUM, 36);
    cases.push((
        ".npmrc",
        format!("//registry.npmjs.org/:_authToken={npmrc}\n"),
        npmrc,
        "npm-token",
    ));
    let pypi = format!("pypi-AgEIcHlwaS5vcmc{}", fake(23, URLSAFE, 70));
    cases.push(("pypirc", format!("password = {pypi}\n"), pypi, "pypi-token"));
    let jwt = format!(
        "eyJhbGciOiJIUzI1NiJ9.eyJ{}.{}",
        fake(24, URLSAFE, 30),
        fake(25, URLSAFE, 43)
    );
    cases.push(("auth.go", format!("t := \"{jwt}\"\n"), jwt, "jwt"));
    let db = fake(26, ALNUM, 18);
    cases.push((
        "docker-compose.yml",
        format!("DATABASE_URL: postgres://app:{db}@db:5432/app\n"),
        db,
        "database-url",
    ));
    let generic = fake(27, ALNUM, 24);
    cases.push((
        "settings.py",
        format!("SECRET_KEY = \"{generic}\"\n"),
        generic,
        "generic-secret",
    ));
    let env = "correct horse battery staple".to_string();
    cases.push((
        ".env",
        format!("# local\nPASSPHRASE=\"{env}\"\n"),
        env,
        "env-file",
    ));
    let wrapped = base64_of(&pem("PRIVATE KEY", 70).0);
    cases.push((
        "secret.yaml",
        format!("data:\n  tls.key: {wrapped}\n"),
        wrapped,
        "private-key",
    ));
    let ppk_body: Vec<String> = (0..3).map(|i| fake(71 + i, BASE64, 64)).collect();
    let ppk_body = ppk_body.join("\n");
    cases.push((
        "id.ppk",
        format!(
            "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nPublic-Lines: 1\n{}\nPrivate-Lines: 3\n{ppk_body}\nPrivate-MAC: {}\n",
            fake(74, BASE64, 64),
            fake(75, HEX, 64)
        ),
        ppk_body,
        "private-key",
    ));
    let (id, key) = (
        format!("AKIA{}", fake(76, UPPER_DIGITS, 16)),
        fake(77, BASE64, 40),
    );
    cases.push((
        "client.java",
        format!("new BasicAWSCredentials(\"{id}\", \"{key}\");\n"),
        key,
        "aws-secret-access-key",
    ));
    let session = format!("IQoJb3JpZ2luX2Vj{}", fake(78, BASE64, 300));
    cases.push((
        "credentials",
        format!("aws_session_token = {session}\n"),
        session,
        "aws-session-token",
    ));
    let go = fake(79, ALNUM, 16);
    cases.push((
        "db.go",
        format!("dsn := \"app:{go}@tcp(db:3306)/app\"\n"),
        go,
        "database-url",
    ));
    let ado = fake(80, ALNUM, 16);
    cases.push((
        "appsettings.json",
        format!("\"Db\": \"Server=db;Database=app;User Id=app;Password={ado};\"\n"),
        ado,
        "database-url",
    ));
    let https = fake(81, ALNUM, 16);
    cases.push((
        "deps.txt",
        format!("git+https://deploy:{https}@git.example.org/app.git\n"),
        https,
        "url-password",
    ));
    let netrc = fake(82, ALNUM, 16);
    cases.push((
        ".netrc",
        format!("machine api.example.org login deploy password {netrc}\n"),
        netrc,
        "credential-file",
    ));
    let pgpass = fake(83, ALNUM, 16);
    cases.push((
        ".pgpass",
        format!("db.internal:5432:app:app:{pgpass}\n"),
        pgpass,
        "credential-file",
    ));
    let docker = fake(84, BASE64, 32);
    cases.push((
        "config.json",
        format!("{{\"auths\": {{\"registry.example.org\": {{\"auth\": \"{docker}\"}}}}}}\n"),
        docker,
        "credential-file",
    ));
    let xml = fake(85, ALNUM, 20);
    cases.push((
        "settings.xml",
        format!("<server><password>{xml}</password></server>\n"),
        xml,
        "generic-secret",
    ));
    cases
}

/// Standard base64 with padding, for wrapped-key cases.
fn base64_of(text: &str) -> String {
    let table = BASE64.as_bytes();
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let n =
            chunk.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(table[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn every_rule_compiles_and_has_a_planted_case() {
    let scanner = Scanner::get();
    assert_eq!(scanner.rules.len(), RULES.len());
    let cases = planted();
    // Every row, not only every id: a rule with several rows could hide a dead one.
    for (index, compiled) in scanner.rules.iter().enumerate() {
        let rule = compiled.rule;
        assert!(
            cases
                .iter()
                .any(|c| c.3 == rule.id && compiled.regex.is_match(&c.1)),
            "no planted case for row {index} ({}: {})",
            rule.id,
            rule.description
        );
    }
}

#[test]
fn every_spelling_the_generic_pattern_allows_is_a_keyword() {
    let scanner = Scanner::get();
    let generic: Vec<usize> = RULES
        .iter()
        .enumerate()
        .filter(|(_, r)| r.id == "generic-secret")
        .map(|(i, _)| i)
        .collect();
    let value = fake(90, ALNUM, 24);
    let mut names: Vec<String> = [
        "password",
        "passwd",
        "pwd",
        "db_pass",
        "passphrase",
        "secret",
    ]
    .iter()
    .chain(&["token", "credentials"])
    .map(|s| s.to_string())
    .collect();
    for (a, b) in rules::KEY_NAME_PAIRS {
        for sep in ["", "_", "-", "."] {
            names.push(format!("{a}{sep}{b}"));
            names.push(format!("{}{sep}{}", a.to_uppercase(), b.to_uppercase()));
        }
    }
    for name in names {
        let text = format!("{name} = \"{value}\"\n");
        let active = scanner.active_rules(&text);
        for &row in &generic {
            assert!(
                active & (1 << row) != 0,
                "{name}: row {row} is not switched on"
            );
        }
        let (out, findings) = redact("app.cfg", &text);
        assert_eq!(secrets_of(&findings), ["generic-secret"], "{name}: {out}");
    }
}

/// The shapes of the review of issue 6, each a leak before: they must all be redacted.
#[test]
fn review_shapes_are_redacted() {
    let v = fake(100, ALNUM, 24);
    let b64 = fake(101, BASE64, 40);
    let hex = fake(102, HEX, 32);
    let (block, body) = pem("RSA PRIVATE KEY", 103);
    let prefixed = |prefix: &str| {
        block
            .lines()
            .map(|l| format!("{prefix}{l}\n"))
            .collect::<String>()
    };
    let entity = block.replace('\n', "&#xA;");
    let cases: Vec<(&str, String, &str)> = vec![
        ("key.py", prefixed("# "), "private-key"),
        ("key.rs", prefixed(" * "), "private-key"),
        ("key.md", prefixed("> "), "private-key"),
        ("key.xml", format!("<key>{entity}</key>\n"), "private-key"),
        (
            "c.sh",
            format!("aws configure set aws_secret_access_key {b64}\n"),
            "aws-secret-access-key",
        ),
        (
            "a.py",
            format!("password = \"/{}\"\n", &b64[1..]),
            "generic-secret",
        ),
        (
            "m.rs",
            format!("const API_KEY: &str = \"{v}\";\n"),
            "generic-secret",
        ),
        (
            "m.rs",
            format!("const SIGNING_KEY: &'static str = \"{v}\";\n"),
            "generic-secret",
        ),
        (
            "m.go",
            format!("const ClientSecret string = \"{v}\"\n"),
            "generic-secret",
        ),
        (
            "m.ts",
            format!("const apiKey: string = \"{v}\";\n"),
            "generic-secret",
        ),
        (
            "m.py",
            format!("api_key: str = \"{v}\"\n"),
            "generic-secret",
        ),
        (
            "c.yaml",
            format!("password: {v}  # prod\n"),
            "generic-secret",
        ),
        (
            "c.py",
            format!("token = \"{}\"\n", fake(104, ALNUM, 300)),
            "generic-secret",
        ),
        (
            "c.json",
            format!("{{\"secret\": \"{}\\/{}\"}}\n", &v[..12], &v[12..]),
            "generic-secret",
        ),
        (
            "c.py",
            format!("password = \"{} {}\"\n", &v[..10], &v[10..]),
            "generic-secret",
        ),
        (
            "c.py",
            format!(
                "secret = \"{}\"\n",
                fake(
                    105,
                    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                    24
                )
            ),
            "generic-secret",
        ),
        (
            "c.py",
            format!(
                "api_key = \"SG.{}.{}\"\n",
                fake(106, URLSAFE, 22),
                fake(107, URLSAFE, 43)
            ),
            "generic-secret",
        ),
        (
            "compose.yml",
            format!("POSTGRES_PASSWORD: {hex}\n"),
            "generic-secret",
        ),
        (
            "c.js",
            format!("fetch(`https://api.example.org/v1?api_key={v}&q=1`)\n"),
            "generic-secret",
        ),
        (
            "c.js",
            format!("u = \"https://api.example.org/cb?access_token={v}\"\n"),
            "generic-secret",
        ),
        (
            "wp-config.php",
            format!("define('AUTH_KEY', '{v}');\n"),
            "generic-secret",
        ),
        (
            "main.tf",
            format!("variable \"db_password\" {{\n  default = \"{v}\"\n}}\n"),
            "generic-secret",
        ),
        (
            "deploy.yaml",
            format!("env:\n  - name: API_TOKEN\n    value: \"{v}\"\n"),
            "generic-secret",
        ),
        (
            "Dockerfile",
            format!("ENV API_TOKEN {v}\n"),
            "generic-secret",
        ),
        ("c.py", format!("smtp_pass = \"{v}\"\n"), "generic-secret"),
        (
            "c.py",
            format!("encryption_key = \"{v}\"\n"),
            "generic-secret",
        ),
        ("c.py", format!("master.key = \"{v}\"\n"), "generic-secret"),
        (
            "c.py",
            format!("k = \"sk-None-{}\"\n", fake(108, URLSAFE, 48)),
            "openai-key",
        ),
        (
            "c.py",
            format!("k = \"sk-svcacct-{}\"\n", fake(109, URLSAFE, 48)),
            "openai-key",
        ),
        (
            "db.py",
            format!("url = \"postgresql+psycopg2://app:{}@db/app\"\n", &v[..16]),
            "database-url",
        ),
        (
            "db.py",
            format!("url = \"postgresql+asyncpg://app:{}@db/app\"\n", &v[..16]),
            "database-url",
        ),
        (
            "db.py",
            format!("url = \"ftp://app:{}@ftp.example.org/\"\n", &v[..16]),
            "url-password",
        ),
        (
            "a.cs",
            format!(
                "var c = \"Data Source=db;User Id=sa;Password={}\";\n",
                &v[..16]
            ),
            "database-url",
        ),
        // Realistic values that the old substring heuristics called examples.
        (
            "db.py",
            "url = \"postgres://app:Passw0rd-Prod-77@db/app\"\n".to_string(),
            "database-url",
        ),
        (
            "db.py",
            "url = \"mysql://admin:admin@db.internal/app\"\n".to_string(),
            "database-url",
        ),
        (
            "p.py",
            format!("key = \"sk_live_{}example\"\n", &v[..20]),
            "stripe-key",
        ),
        (".env", "DB_PASS=\"hunter2-prod\n".to_string(), "env-file"),
        (".env", "DB_PASS: hunter2prod\n".to_string(), "env-file"),
        (".env", "DB_PASS+=hunter2prod\n".to_string(), "env-file"),
    ];
    for (path, text, rule) in cases {
        let (out, findings) = redact(path, &text);
        assert!(
            secrets_of(&findings).contains(&rule),
            "{path}: {rule} not found in {text:?}: {findings:?} -> {out}"
        );
        for needle in [&v[..12], &b64[..12], &hex[..12], &body[..12], "hunter2"] {
            assert!(!out.contains(needle), "{path}: {needle} survives in {out}");
        }
    }
}

#[test]
fn unsigned_tokens_and_identifiers_are_not_findings() {
    for text in [
        "token = \"eyJhbGciOiJub25lIn0.eyJzdWIiOiIxMjM0NTY3ODkwIn0.\"\n",
        "token = \"AuthorizationHeaderName\"\n",
        "secret = \"Your token has expired, sign in again.\"\n",
        "bypass_cache = \"Zq8mWp4Kt9Lr2xY7\"\n",
        "password = \"/usr/local/share/postgresql/data\"\n",
        "tls_cert: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSURhekNDQWxPZ0F3SUJBZ0lVZmFrZWZha2VmYWtl\n",
    ] {
        let (out, findings) = redact("app.py", text);
        assert!(findings.iter().all(|f| !f.is_secret()), "{text:?}: {findings:?}");
        assert_eq!(out, text);
    }
}

#[test]
fn an_allow_marker_keeps_a_line_in_place_as_an_example() {
    let v = fake(110, ALNUM, 24);
    let text = format!("api_key = \"{v}\"  # ctxpack:allow-secret\nother_token = \"{v}\"\n");
    let (out, findings) = redact("app.py", &text);
    assert!(out.starts_with(&format!("api_key = \"{v}\"")));
    assert!(out.ends_with("other_token = \"[REDACTED:generic-secret]\"\n"));
    let kinds: Vec<Kind> = findings.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, [Kind::Example, Kind::Secret]);
}

#[test]
fn secrets_in_path_components_are_redacted() {
    let ghp = format!("ghp_{}", fake(111, ALNUM, 36));
    let components = vec!["keys".to_string(), format!("{ghp}.txt")];
    let (shown, findings) = Scanner::get().redact_path(&components).unwrap();
    assert_eq!(shown, ["keys", "[REDACTED:github-token].txt"]);
    assert_eq!(secrets_of(&findings), ["github-token"]);
    assert_eq!(findings[0].line, 0);
    assert!(Scanner::get()
        .redact_path(&["src".to_string(), "main.rs".to_string()])
        .is_none());
}

#[test]
fn only_whole_values_are_examples() {
    for value in [
        "your-api-key",
        "changeme",
        "<token>",
        "xxxxxxxxxxxx",
        "0123456789",
    ] {
        assert_eq!(classify_value(value), ValueClass::Example, "{value}");
    }
    for value in [
        "MyPassw0rdIsLong",
        "prod-secret-Zq8mWp4K",
        "your2Xk9mQ7pL4",
        "sampleQ9vT2mX7kL",
    ] {
        assert_eq!(classify_value(value), ValueClass::Plausible, "{value}");
    }
}

#[test]
fn planted_secrets_are_replaced_with_their_rule_marker() {
    for (path, text, value, rule) in planted() {
        let (out, findings) = redact(path, &text);
        assert!(!out.contains(&value), "{rule}: value survives in {out:?}");
        assert!(
            out.contains(&format!("[REDACTED:{rule}]")),
            "{rule}: no marker in {out:?}"
        );
        // Positional AWS credentials also report the key id beside the secret.
        let expected: &[&str] = if path == "client.java" {
            &["aws-access-key-id", rule]
        } else {
            &[rule]
        };
        assert_eq!(secrets_of(&findings), expected, "{path}: {findings:?}");
    }
}

#[test]
fn private_key_blocks_keep_their_begin_and_end_lines() {
    let (block, _) = pem("EC PRIVATE KEY", 40);
    let text = format!("line one\n{block}tail\n");
    let (out, findings) = redact("id_ec", &text);
    assert_eq!(
        out,
        "line one\n-----BEGIN EC PRIVATE KEY-----\n[REDACTED:private-key]\n-----END EC PRIVATE KEY-----\ntail\n"
    );
    assert_eq!(findings[0].line, 3, "the body starts on line 3");
}

#[test]
fn examples_are_reported_and_left_in_place() {
    let text = "id = \"AKIAIOSFODNN7EXAMPLE\"\n\
                aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n\
                token: ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n\
                SLACK=xoxb-your-token-here-please\n\
                url = \"mysql://root:password@localhost/db\"\n\
                amqp = \"amqp://guest:guest@localhost:5672\"\n";
    let (out, findings) = redact("config.py", text);
    assert_eq!(out, text, "examples are not redacted");
    assert!(
        findings.iter().all(|f| f.kind == Kind::Example),
        "{findings:?}"
    );
    let rules: Vec<&str> = findings.iter().map(|f| f.rule).collect();
    assert_eq!(
        rules,
        [
            "aws-access-key-id",
            "aws-secret-access-key",
            "github-token",
            "slack-token",
            "database-url",
            "database-url"
        ]
    );
}

#[test]
fn references_and_format_strings_are_not_findings() {
    for text in [
        "DATABASE_URL=mysql://${DB_USER}:${DB_PASSWORD}@db/app\n",
        "dsn = \"postgres://%s:%s@%s/%s\"\n",
        "secret: '%env(APP_SECRET)%'\n",
        "password = $DB_PASSWORD_FROM_ENVIRONMENT\n",
        "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n",
        "token = \"{{ secrets.DEPLOY_TOKEN_VALUE }}\"\n",
        "line = f\"//registry.npmjs.org/:_authToken={npm_token}\\n\"\n",
        "url = \"postgres://app:[REDACTED:database-url]@db:5432/app\"\n",
        "api_key = \"[REDACTED:generic-secret]\"\n",
    ] {
        let (out, findings) = redact("config.yaml", text);
        assert!(findings.is_empty(), "{text:?}: {findings:?}");
        assert_eq!(out, text);
    }
}

#[test]
fn generic_assignments_need_entropy_and_length() {
    let flagged = fake(30, ALNUM, 20);
    let cases = [
        (format!("password = \"{flagged}\""), true),
        (format!("'api_key' => '{flagged}',"), true),
        (format!("{{\"client_secret\": \"{flagged}\"}}"), true),
        (format!("auth_token: {flagged}"), true),
        ("password = \"password\"".to_string(), false),
        ("password = \"hunter2\"".to_string(), false),
        ("secret = \"aaaaaaaaaaaaaaaaaaaa\"".to_string(), false),
        // A realistic password, even with a word in it: only whole placeholders are examples.
        ("password = \"MySecretPassw0rd2024\"".to_string(), true),
        (
            "token = \"550e8400-e29b-41d4-a716-446655440000\"".to_string(),
            false,
        ),
        ("token_type = \"Bearer9f8e7d6c5b4a3\"".to_string(), false),
        (format!("password_hash = \"{flagged}\""), false),
        (format!("csrf_token_id = \"{flagged}\""), false),
        (
            "token_url = \"https://example.org/oauth/token\"".to_string(),
            false,
        ),
        ("secret = \"Authorization-Header-Name\"".to_string(), false),
        ("token = \"app.security.token_storage\"".to_string(), false),
        (
            "password = \"$2y$13$abcdefghijABCDEFGHIJ0123456789abcdefghijABCDEFGHIJ01\""
                .to_string(),
            false,
        ),
        (format!("if password == \"{flagged}\":"), false),
        ("max_tokens = 1234567890123".to_string(), false),
    ];
    for (line, expect) in cases {
        let text = format!("{line}\n");
        let (out, findings) = redact("app.py", &text);
        let secret = findings.iter().any(Finding::is_secret);
        assert_eq!(secret, expect, "{line}: {findings:?} -> {out}");
        if expect {
            assert!(!out.contains(&flagged), "{out}");
        }
    }
}

#[test]
fn hashes_uuids_and_test_vectors_are_not_findings() {
    let text = "\
[[package]]
name = \"regex\"
checksum = \"9b0f3ad2e5c9f3a7e0e9f1a4b9b6c6f4e8d0a2b4c6d8e0f2a4b6c8d0e2f4a6b8\"
\"integrity\": \"sha512-Dz2tL0YV0fC6Q1M3iB9+7l1bU1sEzM4b2oVxm6rN1xX2pHcZ6+ZbW0m8a7kK0Jp0m1c4y6z3x0w9v8u7t6s5r4==\"
commit = \"d2e55da49132a0b1c2d3e4f5a6b7c8d9e0f1a2b3\"
id: 123e4567-e89b-12d3-a456-426614174000
# RFC 4231 test case 1
key = 0x0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b
secret = \"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b\"
expected = \"b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7\"
totp_secret = \"JBSWY3DPEHPK3PXP\"
publishable = \"pk_live_51H8sBqLkdIwHu7ixqX9r2Tz\"
";
    let (out, findings) = redact("Cargo.lock", text);
    assert_eq!(out, text);
    assert!(findings.iter().all(|f| !f.is_secret()), "{findings:?}");
}

#[test]
fn env_files_have_every_value_redacted() {
    let text = "# comment stays\nAPP_ENV=dev\nexport DEBUG=1 # inline comment\nEMPTY=\nQUOTED=''\nNAME='two words'\nMULTI=\"line one\nline two\"\nHASH=ab#cd\n";
    let (out, findings) = redact("app/.env.local", text);
    assert_eq!(
        out,
        "# comment stays\nAPP_ENV=[REDACTED:env-file]\nexport DEBUG=[REDACTED:env-file] # inline comment\nEMPTY=\nQUOTED=''\nNAME='[REDACTED:env-file]'\nMULTI=\"[REDACTED:env-file]\"\nHASH=[REDACTED:env-file]\n"
    );
    let lines: Vec<usize> = findings.iter().map(|f| f.line).collect();
    assert_eq!(lines, [2, 3, 6, 7, 9]);
    // Templates only get the ordinary rules.
    let (out, findings) = redact(".env.example", text);
    assert_eq!(out, text);
    assert!(findings.is_empty());
}

#[test]
fn env_file_names() {
    for name in [
        ".env",
        "a/.env.local",
        ".env.production",
        "docker/prod.env",
        ".envrc",
    ] {
        assert!(is_env_file(name), "{name}");
    }
    for name in [
        ".env.example",
        ".env.sample",
        ".env.template",
        ".env.dist",
        "x/.env.local.example",
        ".env.local.php",
        "config/.env.js",
        "environment.rs",
        ".environment",
        "env",
    ] {
        assert!(!is_env_file(name), "{name}");
    }
}

#[test]
fn a_secret_wins_over_an_overlapping_match_and_specific_rules_win_over_env_values() {
    let ghp = format!("ghp_{}", fake(50, ALNUM, 36));
    let text = format!("GITHUB_TOKEN={ghp}\n");
    let (out, findings) = redact(".env", &text);
    assert_eq!(out, "GITHUB_TOKEN=[REDACTED:github-token]\n");
    assert_eq!(findings.len(), 1);

    // An example inside an env value is still redacted: every .env value is.
    let (out, findings) = redact(".env", "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n");
    assert_eq!(out, "AWS_ACCESS_KEY_ID=[REDACTED:env-file]\n");
    assert_eq!(secrets_of(&findings), ["env-file"]);
}

#[test]
fn text_without_findings_is_borrowed_and_lines_are_counted() {
    let text = "fn main() {}\n";
    let r = Scanner::get().redact("main.rs", text);
    assert!(matches!(r.text, Cow::Borrowed(_)));
    let ghp = format!("ghp_{}", fake(60, ALNUM, 36));
    let text = format!("a\nb\nc = \"{ghp}\"\nd = \"{ghp}\"\n");
    let (_, findings) = redact("x.py", &text);
    let lines: Vec<usize> = findings.iter().map(|f| f.line).collect();
    assert_eq!(lines, [3, 4]);
}

#[test]
fn entropy_and_name_words() {
    assert_eq!(shannon_entropy(""), 0.0);
    assert_eq!(shannon_entropy("aaaa"), 0.0);
    assert!((shannon_entropy("ab") - 1.0).abs() < 1e-9);
    assert_eq!(last_word("db_password_hash").as_deref(), Some("hash"));
    assert_eq!(last_word("apiKeyName").as_deref(), Some("name"));
    assert_eq!(last_word("API_TOKEN").as_deref(), Some("token"));
    assert_eq!(last_word("$this.password\"").as_deref(), Some("password"));
}

/// Text built against the rules: long runs that almost match (an unterminated quoted password,
/// a run of `=`, a PEM header with no end, a run of JWT prefixes), then one real secret.
fn adversarial_text(secret: &str) -> String {
    format!(
        "password = \"{}\npassword{}\n-----BEGIN PRIVATE KEY-----{}\n{}\ntoken = \"{secret}\"\n",
        "a".repeat(200_000),
        "=".repeat(100_000),
        "A".repeat(200_000),
        "eyJ".repeat(100_000)
    )
}

/// What keeps adversarial input cheap is structural, and checked where the rules are built:
/// every row compiles for the `regex` crate, which searches in time linear in the text and
/// refuses the constructs that would backtrack. A row changed to need backtracking (a
/// backreference, a look-around) fails here, naming the rule. The scanner's speed on the same
/// input, next to ordinary text's, is measured by `cargo bench --bench secrets` (no test
/// asserts on wall-clock time).
#[test]
fn every_rule_compiles_for_a_linear_time_engine() {
    for rule in RULES {
        if let Err(message) = linear_time_regex(rule) {
            panic!("{message}");
        }
    }
    // The check itself can fail: a backreference is refused, with the rule named.
    let backtracking = Rule {
        pattern: r"(?i)(password)\s*=\s*\1",
        ..RULES[0]
    };
    let refused = linear_time_regex(&backtracking).expect_err("a backreference is refused");
    assert!(refused.contains(RULES[0].id), "{refused}");
}

/// The scanner reads adversarial text to its end: the real secret after the runs is found, and
/// nothing in the runs is taken for one.
#[test]
fn adversarial_input_is_scanned_to_the_end() {
    let secret = fake(70, ALNUM, 40);
    let text = adversarial_text(&secret);
    let (out, findings) = redact("big.txt", &text);
    assert!(!out.contains(&secret), "the secret after the runs survived");
    assert_eq!(secrets_of(&findings), ["generic-secret"], "{findings:?}");
    let lines: Vec<usize> = findings
        .iter()
        .filter(|f| f.is_secret())
        .map(|f| f.line)
        .collect();
    assert_eq!(lines, [5], "{findings:?}");
    assert_eq!(
        out.len(),
        text.len() - secret.len() + "[REDACTED:generic-secret]".len()
    );
}
