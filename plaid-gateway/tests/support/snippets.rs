//! Running the console's snippets as their users would: curl under bash, TypeScript with npm's
//! `plaid` under node (and `tsc --strict` over all of them), Python with `plaid-python`, and
//! Rust with this workspace's plaid-sdk. The two official libraries are the pinned versions
//! `.ci/snippet-libs` installs into `target/snippet-libs/` (or where `PLAID_SNIPPET_LIBS`
//! says).

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use tokio::process::Command;

/// Where the pinned libraries are.
pub struct Libs {
    /// `node/` with `node_modules/plaid`, `typescript` and `@types/node`.
    pub node: PathBuf,
    /// A `--target` folder with `plaid` (plaid-python) and its dependencies.
    pub python: PathBuf,
}

/// The installed libraries; a test that needs them fails, saying how to install them, when
/// they are absent.
pub fn libs() -> Libs {
    let root = std::env::var_os("PLAID_SNIPPET_LIBS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/snippet-libs"),
        PathBuf::from,
    );
    let libs = Libs {
        node: root.join("node"),
        python: root.join("python"),
    };
    for needed in [
        libs.node.join("node_modules/plaid/package.json"),
        libs.node.join("node_modules/typescript/bin/tsc"),
        libs.python.join("plaid/__init__.py"),
    ] {
        assert!(
            needed.exists(),
            "{} is missing: run `bash .ci/snippet-libs` (it installs the pinned npm `plaid` and \
             `plaid-python` into target/snippet-libs/)",
            needed.display()
        );
    }
    libs
}

/// One operation's form, as the page describes it: the JSON body it sends, and where its
/// tokens are (a JSON pointer into the body, and the environment variable the snippets read
/// the token from) with the form's token for each.
pub struct Call {
    pub name: String,
    pub path: String,
    pub body: Value,
    pub secrets: Vec<(String, String, String)>,
}

impl Call {
    /// The environment a snippet runs with and the body it must send: each token's variable
    /// holds the form's token, or `replacement` for operations that use their token up.
    pub fn environment(&self, replacement: Option<&str>) -> (Vec<(String, String)>, Value) {
        let mut body = self.body.clone();
        let mut env = Vec::new();
        for (pointer, name, token) in &self.secrets {
            let value = replacement.unwrap_or(token);
            let slot = body
                .pointer_mut(pointer)
                .unwrap_or_else(|| panic!("{}: no token at {pointer}", self.name));
            *slot = Value::String(value.to_string());
            env.push((name.clone(), value.to_string()));
        }
        (env, body)
    }
}

/// What a curl snippet sends: the JSON of its here-document, with each `"$VARIABLE"` (a token
/// read from the environment) left as a placeholder string, and where those are (a JSON
/// pointer and the variable's name).
pub fn curl_description(curl: &str) -> (Value, Vec<(String, String)>) {
    let start = curl.find("<<EOF\n").expect("a here-document") + "<<EOF\n".len();
    let end = curl.rfind("\nEOF").expect("the here-document's end");
    let mut text = String::new();
    let mut chars = curl[start..end].chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            // Escaped for the shell: the character itself.
            '\\' => text.extend(chars.next()),
            '$' => {
                let mut name = String::new();
                while let Some(&n) = chars
                    .peek()
                    .filter(|n| n.is_ascii_alphanumeric() || **n == '_')
                {
                    name.push(n);
                    chars.next();
                }
                // A string no form value holds (JSON's escape for NUL, then the name).
                text.push_str(&format!("\\u0000env:{name}"));
            }
            c => text.push(c),
        }
    }
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let mut secrets = Vec::new();
    placeholders(&body, String::new(), &mut secrets);
    (body, secrets)
}

const PLACEHOLDER: &str = "\u{0}env:";

fn placeholders(value: &Value, at: String, out: &mut Vec<(String, String)>) {
    match value {
        Value::String(s) => {
            if let Some(name) = s.strip_prefix(PLACEHOLDER) {
                out.push((at, name.to_string()));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                placeholders(item, format!("{at}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                let key = key.replace('~', "~0").replace('/', "~1");
                placeholders(item, format!("{at}/{key}"), out);
            }
        }
        _ => {}
    }
}

/// A folder for one test's snippet files, inside the node folder so that `require("plaid")`
/// and `tsc` find the installed packages; removed when dropped.
pub struct Workdir(pub PathBuf);

impl Workdir {
    pub fn new(libs: &Libs, name: &str) -> Workdir {
        let dir = libs
            .node
            .join("runs")
            .join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("snippet folder");
        Workdir(dir)
    }

    pub fn write(&self, file: &str, text: &str) -> PathBuf {
        let path = self.0.join(file);
        std::fs::write(&path, text).expect("snippet file");
        path
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn command(program: &str, env: &[(String, String)]) -> Command {
    let mut command = Command::new(program);
    command.env_clear();
    for name in ["PATH", "HOME", "LANG", "SYSTEMROOT"] {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    command.envs(env.iter().map(|(k, v)| (k, v)));
    command
}

/// Runs `<name>.sh` under bash.
pub async fn curl(dir: &Workdir, name: &str, env: &[(String, String)]) -> Output {
    command("bash", env)
        .arg(dir.0.join(format!("{name}.sh")))
        .output()
        .await
        .expect("bash")
}

/// Runs `<name>.js`, which [`compile_typescript`] wrote from `<name>.ts`, under node.
pub async fn typescript(dir: &Workdir, name: &str, env: &[(String, String)]) -> Output {
    command("node", env)
        .current_dir(&dir.0)
        .arg(dir.0.join(format!("{name}.js")))
        .output()
        .await
        .expect("node")
}

/// Runs `<name>.py` with plaid-python on its path.
pub async fn python(libs: &Libs, dir: &Workdir, name: &str, env: &[(String, String)]) -> Output {
    let mut env = env.to_vec();
    env.push(("PYTHONPATH".into(), libs.python.display().to_string()));
    env.push(("PYTHONDONTWRITEBYTECODE".into(), "1".into()));
    command("python3", &env)
        .arg(dir.0.join(format!("{name}.py")))
        .output()
        .await
        .expect("python3")
}

/// `tsc --strict` over the given TypeScript files (the types a user's editor and build would
/// check), writing each one's JavaScript beside it.
pub async fn compile_typescript(libs: &Libs, dir: &Workdir, files: &[PathBuf]) {
    let tsconfig = serde_json::json!({
        "compilerOptions": {
            "strict": true,
            "module": "commonjs",
            "target": "es2020",
            "types": ["node"],
            "skipLibCheck": true,
            "noUnusedLocals": true,
        },
        "files": files,
    });
    dir.write("tsconfig.json", &tsconfig.to_string());
    let output = command("node", &[])
        .current_dir(&dir.0)
        .arg(libs.node.join("node_modules/typescript/bin/tsc"))
        .args(["-p", "tsconfig.json"])
        .output()
        .await
        .expect("tsc");
    assert!(
        output.status.success(),
        "tsc refuses the TypeScript snippets:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The snippet crate (`target/console-snippets/`) with its manifest and the workspace's lock
/// file written: it depends on this workspace's plaid-sdk and builds into the workspace's
/// target directory (so nothing is fetched). Returns the workspace root and the crate.
fn snippet_crate() -> (PathBuf, PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let root = root.canonicalize().expect("workspace root");
    let dir = root.join("target/console-snippets");
    std::fs::create_dir_all(dir.join("src")).expect("snippet crate");
    let manifest = format!(
        "[package]\nname = \"console-snippets\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         [dependencies]\nplaid-sdk = {{ path = {:?} }}\ntokio = {{ version = \"1\", features = [\"macros\", \"rt-multi-thread\"] }}\n\n\
         [workspace]\n\n[profile.dev]\ndebug = \"line-tables-only\"\n\n[profile.dev.package.\"*\"]\ndebug = false\n",
        root.join("plaid-sdk").display().to_string()
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).expect("manifest");
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).expect("lock file");
    (root, dir)
}

async fn cargo_build(root: &Path, dir: &Path) -> Output {
    Command::new(env!("CARGO"))
        .current_dir(dir)
        .args(["build", "--offline", "--quiet"])
        .env("CARGO_TARGET_DIR", root.join("target"))
        .env_remove("RUSTFLAGS")
        .output()
        .await
        .expect("cargo build")
}

/// Starts building the snippet crate with a `main` of nothing, so that its dependencies
/// compile while the browser fills the forms; [`build_rust`] then compiles the snippets alone.
pub fn prebuild_rust() -> tokio::task::JoinHandle<()> {
    tokio::spawn(async {
        let (root, dir) = snippet_crate();
        std::fs::write(dir.join("src/main.rs"), "fn main() {}\n").expect("main.rs");
        // A failure here shows again, with its message, in the real build.
        let _ = cargo_build(&root, &dir).await;
    })
}

/// Builds every Rust snippet into one program, each as a module (its `main` made public) that
/// the program's `main` runs by name, once `prebuild` (from [`prebuild_rust`]) is done.
/// `#![deny(warnings)]`: an unused import in a snippet fails.
pub async fn build_rust(
    prebuild: tokio::task::JoinHandle<()>,
    snippets: &[(String, String)],
) -> PathBuf {
    prebuild.await.expect("the snippet crate's first build");
    let (root, dir) = snippet_crate();
    let mut main = String::from(
        "#![deny(warnings)]\n\nfn main() -> Result<(), Box<dyn std::error::Error>> {\n    \
         match std::env::args().nth(1).unwrap_or_default().as_str() {\n",
    );
    for (name, _) in snippets {
        main.push_str(&format!("        {name:?} => {name}::main(),\n"));
    }
    main.push_str("        other => panic!(\"no snippet {other:?}\"),\n    }\n}\n");
    for (name, snippet) in snippets {
        let public = snippet.replacen("async fn main()", "pub async fn main()", 1);
        assert_ne!(&public, snippet, "{name}: no `async fn main()`");
        main.push_str(&format!("\nmod {name} {{\n{public}\n}}\n"));
    }
    std::fs::write(dir.join("src/main.rs"), &main).expect("main.rs");
    let output = cargo_build(&root, &dir).await;
    assert!(
        output.status.success(),
        "the Rust snippets do not compile:\n{}\n{main}",
        String::from_utf8_lossy(&output.stderr)
    );
    root.join("target/debug/console-snippets")
}

pub async fn rust(program: &Path, name: &str, env: &[(String, String)]) -> Output {
    command(&program.display().to_string(), env)
        .arg(name)
        .output()
        .await
        .expect("the Rust snippets' program")
}
