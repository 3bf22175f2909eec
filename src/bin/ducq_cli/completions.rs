//! `ducq completions bash|zsh|fish`: shell completion scripts, all three
//! generated from one table of commands and options, so they cannot drift
//! apart from each other. The table must list what `ducq.rs` parses (a test
//! runs every option it lists through the real parser).

/// What an option's value is, for the shells to offer the right words.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// A flag without a value.
    None,
    /// A host name.
    Host,
    /// Free text (a number, a route): nothing to offer.
    Text,
    /// One of these words.
    Words(&'static [&'static str]),
}

/// One option.
pub struct Opt {
    /// Long name without dashes.
    pub long: &'static str,
    /// Short letter, if any.
    pub short: Option<char>,
    /// Its value.
    pub value: Value,
    /// One line of help.
    pub help: &'static str,
}

/// One command.
pub struct Cmd {
    /// Its name.
    pub name: &'static str,
    /// One line of help.
    pub help: &'static str,
    /// Its own options.
    pub opts: &'static [Opt],
    /// Words for its first argument, if a fixed set.
    pub args: &'static [&'static str],
}

const fn opt(long: &'static str, value: Value, help: &'static str) -> Opt {
    Opt {
        long,
        short: None,
        value,
        help,
    }
}

/// The shells `completions` knows.
pub const SHELLS: &[&str] = &["bash", "zsh", "fish"];

/// Options valid with every command.
pub const GLOBAL: &[Opt] = &[
    opt("host", Value::Host, "server host"),
    opt("port", Value::Text, "server port"),
    opt("ws", Value::None, "connect over WebSocket"),
    opt(
        "timeout",
        Value::Text,
        "connect and reply timeout in seconds",
    ),
    opt(
        "json",
        Value::None,
        "JSON output (lscmd, lsconn, sub, queues, deq)",
    ),
    opt(
        "color",
        Value::Words(&["auto", "always", "never"]),
        "when to colour output",
    ),
    opt("no-color", Value::None, "never colour output"),
    opt("no-progress", Value::None, "no progress line on stderr"),
    Opt {
        long: "help",
        short: Some('h'),
        value: Value::None,
        help: "show help",
    },
    Opt {
        long: "version",
        short: Some('V'),
        value: Value::None,
        help: "show the version",
    },
];

/// Every command.
pub const COMMANDS: &[Cmd] = &[
    Cmd {
        name: "pub",
        help: "publish a payload on a route",
        opts: &[],
        args: &[],
    },
    Cmd {
        name: "sub",
        help: "print each message on a route",
        opts: &[
            opt(
                "last",
                Value::None,
                "first print the stored last message(s)",
            ),
            opt("add", Value::Text, "follow another route too"),
            opt("count", Value::Text, "stop after N messages"),
            opt(
                "no-reconnect",
                Value::None,
                "exit when the connection is lost",
            ),
            opt(
                "reconnect-max",
                Value::Text,
                "longest wait between reconnect attempts, seconds",
            ),
            Opt {
                long: "verbose",
                short: Some('v'),
                value: Value::None,
                help: "print the route before the payload",
            },
        ],
        args: &[],
    },
    Cmd {
        name: "lscmd",
        help: "list the server's commands",
        opts: &[],
        args: &[],
    },
    Cmd {
        name: "lsconn",
        help: "list connections and their subscriptions",
        opts: &[],
        args: &[],
    },
    Cmd {
        name: "send",
        help: "send any command and print its reply",
        opts: &[opt(
            "no-reply",
            Value::None,
            "do not wait for a reply; print what the command answered",
        )],
        args: &[],
    },
    Cmd {
        name: "chan",
        help: "add, remove, list or show channels",
        opts: &[],
        args: &["add", "rm", "ls", "show"],
    },
    Cmd {
        name: "lua",
        help: "run a Lua client script",
        opts: &[],
        args: &[],
    },
    Cmd {
        name: "completions",
        help: "print a shell completion script",
        opts: &[],
        args: SHELLS,
    },
];

/// The script for `shell`, or `None` for a shell it does not know.
pub fn script(shell: &str) -> Option<String> {
    match shell {
        "bash" => Some(bash()),
        "zsh" => Some(zsh()),
        "fish" => Some(fish()),
        _ => None,
    }
}

fn flags(opts: &[Opt]) -> Vec<String> {
    let mut out = Vec::new();
    for o in opts {
        out.push(format!("--{}", o.long));
        if let Some(c) = o.short {
            out.push(format!("-{c}"));
        }
    }
    out
}

fn bash() -> String {
    let globals = flags(GLOBAL).join(" ");
    let names: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
    let mut valued = Vec::new();
    let mut value_cases = String::new();
    for o in GLOBAL.iter().chain(COMMANDS.iter().flat_map(|c| c.opts)) {
        let words = match o.value {
            Value::None => continue,
            Value::Host => "$(compgen -A hostname -- \"$cur\")".to_owned(),
            Value::Text => String::new(),
            Value::Words(w) => format!("$(compgen -W \"{}\" -- \"$cur\")", w.join(" ")),
        };
        valued.push(format!("--{}", o.long));
        value_cases.push_str(&format!(
            "        --{}) COMPREPLY=({words}); return ;;\n",
            o.long
        ));
    }
    let mut command_cases = String::new();
    for c in COMMANDS {
        let own = flags(c.opts).join(" ");
        let args = c.args.join(" ");
        command_cases.push_str(&format!(
            "        {}) opts=\"{own}\"; args=\"{args}\" ;;\n",
            c.name
        ));
    }
    format!(
        r#"# bash completion for ducq; load with: source <(ducq completions bash)
_ducq() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    local globals="{globals}"
    case "$prev" in
{value_cases}    esac
    local i cmd="" nargs=0
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${{COMP_WORDS[i]}}" in
            {valued_pattern}) ((i++)) ;;
            -*) ;;
            *) if [[ -z "$cmd" ]]; then cmd="${{COMP_WORDS[i]}}"; else ((nargs++)); fi ;;
        esac
    done
    if [[ -z "$cmd" ]]; then
        if [[ "$cur" == -* ]]; then
            COMPREPLY=($(compgen -W "$globals" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "{names}" -- "$cur"))
        fi
        return
    fi
    local opts="" args=""
    case "$cmd" in
{command_cases}    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$opts $globals" -- "$cur"))
    elif [[ $nargs -eq 0 && -n "$args" ]]; then
        COMPREPLY=($(compgen -W "$args" -- "$cur"))
    fi
}}
complete -F _ducq ducq
"#,
        valued_pattern = valued.join("|"),
        names = names.join(" "),
    )
}

/// Text inside a zsh single-quoted word.
fn zsh_quoted(text: &str) -> String {
    text.replace('\'', "'\\''")
}

fn zsh_spec(o: &Opt) -> Vec<String> {
    let help = zsh_quoted(&o.help.replace(['[', ']'], ""));
    let value = match o.value {
        Value::None => String::new(),
        Value::Host => ":host:_hosts".to_owned(),
        Value::Text => format!(":{}: ", o.long),
        Value::Words(w) => format!(":{}:({})", o.long, w.join(" ")),
    };
    let mut out = vec![format!("'--{}[{help}]{value}'", o.long)];
    if let Some(c) = o.short {
        out.push(format!("'-{c}[{help}]{value}'"));
    }
    out
}

fn zsh() -> String {
    let globals: Vec<String> = GLOBAL.iter().flat_map(zsh_spec).collect();
    let commands: Vec<String> = COMMANDS
        .iter()
        .map(|c| format!("'{}:{}'", c.name, zsh_quoted(c.help)))
        .collect();
    let mut cases = String::new();
    for c in COMMANDS {
        let mut specs: Vec<String> = c.opts.iter().chain(GLOBAL).flat_map(zsh_spec).collect();
        if !c.args.is_empty() {
            specs.push(format!("'1:{}:({})'", c.name, c.args.join(" ")));
        }
        specs.push("'*:argument: '".to_owned());
        cases.push_str(&format!(
            "        {}) _arguments \\\n            {} ;;\n",
            c.name,
            specs.join(" \\\n            ")
        ));
    }
    format!(
        r#"#compdef ducq
# zsh completion for ducq; load with: source <(ducq completions zsh)
# (after compinit), or save as _ducq in a folder of $fpath.
_ducq() {{
    local curcontext="$curcontext" state line
    local -a commands
    commands=({commands})
    _arguments -C \
        {globals} \
        '1:command:->command' \
        '*::argument:->argument'
    case $state in
    command)
        _describe 'command' commands ;;
    argument)
        case $line[1] in
{cases}        esac ;;
    esac
}}
if [ "$funcstack[1]" = "_ducq" ]; then
    _ducq "$@"
else
    compdef _ducq ducq
fi
"#,
        commands = commands.join(" "),
        globals = globals.join(" \\\n        "),
    )
}

fn fish_opt(o: &Opt, condition: &str) -> String {
    let mut line = format!("complete -c ducq{condition} -l {}", o.long);
    if let Some(c) = o.short {
        line.push_str(&format!(" -s {c}"));
    }
    match o.value {
        Value::None => {}
        Value::Host => line.push_str(" -x -a '(__fish_print_hostnames)'"),
        Value::Text => line.push_str(" -x"),
        Value::Words(w) => line.push_str(&format!(" -x -a '{}'", w.join(" "))),
    }
    line.push_str(&format!(" -d '{}'", fish_quoted(o.help)));
    line
}

/// Text inside a fish single-quoted word.
fn fish_quoted(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\'', "\\'")
}

fn fish() -> String {
    let names: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
    let mut out = String::from(
        "# fish completion for ducq; load with: ducq completions fish | source\n\
         complete -c ducq -f\n",
    );
    for o in GLOBAL {
        out.push_str(&fish_opt(o, ""));
        out.push('\n');
    }
    for c in COMMANDS {
        out.push_str(&format!(
            "complete -c ducq -n 'not __fish_seen_subcommand_from {}' -a {} -d '{}'\n",
            names.join(" "),
            c.name,
            fish_quoted(c.help)
        ));
        let seen = format!(" -n '__fish_seen_subcommand_from {}'", c.name);
        for o in c.opts {
            out.push_str(&fish_opt(o, &seen));
            out.push('\n');
        }
        if !c.args.is_empty() {
            out.push_str(&format!(
                "complete -c ducq{seen} -a '{}'\n",
                c.args.join(" ")
            ));
        }
    }
    out
}
