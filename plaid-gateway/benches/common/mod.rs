//! What the gateway's benches share: free ports, child processes stopped on drop, nginx
//! started with a configuration of the bench's, and CPU time read from /proc.

#![allow(dead_code)] // each bench uses its part

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// CPU time spent so far by the processes `pids` and their children (nginx's workers), all
/// threads, from `/proc/<pid>/task/*/schedstat` (nanoseconds).
pub fn cpu_time(pids: &[u32]) -> Duration {
    let mut total = 0u64;
    let mut pending: Vec<u32> = pids.to_vec();
    while let Some(pid) = pending.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let path = task.path();
            if let Ok(stat) = std::fs::read_to_string(path.join("schedstat")) {
                total += stat
                    .split_whitespace()
                    .next()
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
            }
            if let Ok(children) = std::fs::read_to_string(path.join("children")) {
                pending.extend(
                    children
                        .split_whitespace()
                        .filter_map(|c| c.parse::<u32>().ok()),
                );
            }
        }
    }
    Duration::from_nanos(total)
}

pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A child process killed when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// nginx's master process, stopped with its workers when dropped (killing the master alone
/// would leave the workers running).
pub struct Nginx {
    pub master: Child,
    binary: &'static str,
    dir: std::path::PathBuf,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let stopped = Command::new(self.binary)
            .arg("-p")
            .arg(&self.dir)
            .arg("-c")
            .arg(self.dir.join("nginx.conf"))
            .args(["-s", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !stopped {
            let _ = self.master.kill();
        }
        let _ = self.master.wait();
    }
}

/// nginx with `http` as its `http { }` block's contents and `workers` worker processes, its
/// files in `dir`; `None` when nginx is not installed.
pub fn start_nginx_with(dir: &std::path::Path, workers: &str, http: &str) -> Option<Nginx> {
    let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())?;
    std::fs::create_dir_all(dir.join("logs")).ok()?;
    let conf = format!(
        r#"worker_processes {workers};
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
{http}
}}
"#,
        dir = dir.display(),
    );
    std::fs::write(dir.join("nginx.conf"), conf).ok()?;
    let child = Command::new(nginx)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    Some(Nginx {
        master: child,
        binary: nginx,
        dir: dir.to_path_buf(),
    })
}

/// The `server { }` of nginx doing the gateway's core job for `/processor/token/create`: the
/// caller token checked, the credential headers set, upstream connections kept alive.
pub fn gateway_job(
    port: u16,
    upstream: &str,
    caller_token: &str,
    client_id: &str,
    secret: &str,
) -> String {
    let upstream = upstream.trim_start_matches("http://");
    format!(
        r#"    upstream plaid {{ server {upstream}; keepalive 128; }}
    map $http_x_gateway_token $caller_ok {{ "{caller_token}" 1; default 0; }}
    server {{
        listen 127.0.0.1:{port};
        location = /processor/token/create {{
            if ($caller_ok = 0) {{ return 401; }}
            proxy_pass http://plaid;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header x-gateway-token "";
            proxy_set_header plaid-client-id "{client_id}";
            proxy_set_header plaid-secret "{secret}";
            proxy_set_header plaid-version "2020-09-14";
        }}
        location / {{ return 403; }}
    }}"#
    )
}
