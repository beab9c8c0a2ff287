//! The `flowhq` binary refuses bad configuration with one line naming the key.

use std::process::Output;

use crate::helpers::flowhq_command;

fn flowhq(envs: &[(&str, &str)], args: &[&str]) -> Output {
    // A working directory of its own: no config/local.toml, no ./data.
    let dir = tempfile::tempdir().unwrap();
    let mut command = flowhq_command(dir.path());
    command.args(args);
    command.envs(envs.iter().copied()).output().unwrap()
}

fn single_error_line(output: &Output) -> String {
    assert!(!output.status.success(), "the process must fail");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "exactly one line on stderr, got: {stderr}");
    lines[0].to_owned()
}

#[test]
fn bad_config_values_stop_the_start_with_one_line_naming_the_key() {
    let cases = [
        ("FLOWHQ__SERVER__PORT", "abc", "server.port"),
        ("FLOWHQ__SERVER__PORT", "70000", "server.port"),
        (
            "FLOWHQ__SERVER__SHUTDOWN_TIMEOUT",
            "soon",
            "server.shutdown_timeout",
        ),
        (
            "FLOWHQ__SERVER__PUBLIC_URL",
            "not a url",
            "server.public_url",
        ),
        (
            "FLOWHQ__DATABASE__URL",
            "mysql://localhost/flowhq",
            "database.url",
        ),
        (
            "FLOWHQ__DATABASE__URL",
            "postgres://[broken",
            "database.url",
        ),
        ("FLOWHQ__SERVER__COLOUR", "blue", "server.colour"),
        ("FLOWHQ__TELEMETRY__FORMAT", "xml", "telemetry.format"),
    ];
    for (var, value, key) in cases {
        let output = flowhq(&[(var, value)], &["migrate"]);
        let line = single_error_line(&output);
        assert!(
            line.starts_with("configuration error: ") && line.contains(key),
            "{var}={value}: expected a line naming {key}, got: {line}"
        );
        assert_eq!(output.status.code(), Some(2), "{var}={value}: exit code");
    }
}

#[test]
fn a_bad_environment_variable_is_named_as_the_operator_wrote_it() {
    let output = flowhq(&[("FLOWHQ__SERVER__PORT", "abc")], &["migrate"]);
    let line = single_error_line(&output);
    assert!(line.contains("FLOWHQ__SERVER__PORT"), "{line}");
}

#[test]
fn a_database_password_never_appears_in_the_output() {
    // Nothing listens on port 1: the connection fails and is reported.
    let output = flowhq(
        &[
            (
                "FLOWHQ__DATABASE__URL",
                "postgres://flowhq:s3cret-pw@127.0.0.1:1/flowhq",
            ),
            ("FLOWHQ__DATABASE__CONNECT_TIMEOUT", "1s"),
            ("FLOWHQ__DATABASE__ACQUIRE_TIMEOUT", "1s"),
        ],
        &["migrate"],
    );
    assert!(!output.status.success());
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(all.contains("cannot connect"), "{all}");
    assert!(!all.contains("s3cret-pw"), "the password leaked: {all}");
}

#[test]
fn an_unusable_data_directory_is_reported_plainly() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the data directory should be: it cannot be created.
    let blocker = dir.path().join("data");
    std::fs::write(&blocker, "not a directory").unwrap();
    let url = format!("sqlite://{}/flowhq.db", blocker.display());

    let output = flowhq(&[("FLOWHQ__DATABASE__URL", &url)], &["migrate"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot create the data directory")
            && stderr.contains(&*blocker.to_string_lossy()),
        "{stderr}"
    );
}

#[test]
fn help_lists_the_commands() {
    let output = flowhq(&[], &["--help"]);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for command in ["serve", "migrate"] {
        assert!(help.contains(command), "{help}");
    }
}
