//! One definition of every setting: `serve --help` prints each variable with its default, and
//! the README's configuration table lists the same variables with the same defaults.

use std::process::Command;
use stripe_pulsora_cli::settings::describe;

fn readme_table() -> Vec<(Vec<String>, String)> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let start = readme
        .find("| variable | meaning | default |")
        .expect("the README has the configuration table");
    readme[start..]
        .lines()
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").collect();
            let variables = cells[0]
                .split(',')
                .map(|v| v.trim().trim_matches('`').to_owned())
                .collect();
            (variables, cells.last().unwrap_or(&"").to_string())
        })
        .collect()
}

#[test]
fn serve_help_lists_every_setting_with_its_default() {
    let output = Command::new(env!("CARGO_BIN_EXE_stripe-pulsora"))
        .args(["serve", "--help"])
        .env_clear()
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    let settings = describe();
    assert!(settings.len() >= 24, "{} settings", settings.len());
    for (variable, default, _) in &settings {
        assert!(
            help.contains(&format!("[env: {variable}")),
            "{variable} missing from --help"
        );
        if let Some(default) = default {
            assert!(
                help.contains(&format!("[default: {default}]")),
                "{variable}'s default {default} missing from --help"
            );
        }
    }
}

#[test]
fn readme_table_matches_the_settings() {
    let table = readme_table();
    let documented: Vec<&String> = table.iter().flat_map(|(vars, _)| vars).collect();
    let settings = describe();
    for (variable, default, _) in &settings {
        let row = table
            .iter()
            .find(|(vars, _)| vars.contains(variable))
            .unwrap_or_else(|| panic!("{variable} is not in the README's configuration table"));
        if let Some(default) = default {
            assert!(
                row.1.contains(&format!("`{default}`")),
                "README gives {variable} the default {:?}, the definition {default:?}",
                row.1
            );
        }
    }
    // Nothing documented that the bridge does not read.
    let known = stripe_pulsora_cli::known_variables();
    for variable in documented {
        assert!(
            known.contains(variable),
            "README documents unknown {variable}"
        );
    }
}
