//! Python's `re` module: pattern syntax, matching rules and results, by character.
//!
//! The engine backtracks like CPython's `sre`: alternatives are tried left to right, greedy
//! quantifiers take as much as they can first, lazy ones as little, and a repetition whose body
//! matched nothing stops (so `(a*)*` terminates). Like CPython, a pattern with nested unbounded
//! repetitions can take exponential time on input made to defeat it.
//!
//! Not supported (`compile` panics with `re.error: unsupported ...`, and the translator refuses
//! literal patterns that use them): scoped inline flags `(?i:...)`, conditional groups
//! `(?(1)...)`, atomic groups and possessive quantifiers, `\N{...}`, and the LOCALE flag.

use std::collections::HashMap;

/// `re.IGNORECASE` / `re.I`.
pub const IGNORECASE: isize = 2;
/// `re.MULTILINE` / `re.M`.
pub const MULTILINE: isize = 8;
/// `re.DOTALL` / `re.S`.
pub const DOTALL: isize = 16;
/// `re.UNICODE` / `re.U` (the default for str patterns; accepted and ignored).
pub const UNICODE: isize = 32;
/// `re.VERBOSE` / `re.X`.
pub const VERBOSE: isize = 64;
/// `re.ASCII` / `re.A`: `\w`, `\d`, `\s`, `\b` and case folding cover ASCII only.
pub const ASCII: isize = 256;

#[derive(Debug, Clone, PartialEq)]
enum Item {
    Char(char),
    Range(char, char),
    Digit(bool),
    Word(bool),
    Space(bool),
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Empty,
    Char(char),
    Any,
    Class(Vec<Item>, bool),
    LineStart,
    LineEnd,
    TextStart,
    TextEnd,
    WordBoundary(bool),
    Group(Box<Node>, Option<usize>),
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    Repeat { node: Box<Node>, min: usize, max: Option<usize>, greedy: bool },
    Backref(usize),
    Look { node: Box<Node>, ahead: bool, negate: bool, width: usize },
}

/// A compiled pattern (`re.Pattern`).
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    /// The pattern's source text, as `Pattern.pattern`.
    pub pattern: String,
    /// The flags it was compiled with, inline flags included, as `Pattern.flags` (less UNICODE).
    pub flags: isize,
    /// The number of capturing groups, as `Pattern.groups`.
    pub groups: usize,
    names: HashMap<String, usize>,
    node: Node,
}

impl Default for Pattern {
    fn default() -> Self {
        compile("", 0)
    }
}

/// A successful match (`re.Match`); spans are character offsets into `string`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Match {
    /// The string searched, as `Match.string`.
    pub string: String,
    spans: Vec<Option<(usize, usize)>>,
    names: HashMap<String, usize>,
}

fn error(message: &str) -> ! {
    panic!("re.error: {}", message)
}

struct Parser<'a> {
    chars: Vec<char>,
    pos: usize,
    flags: isize,
    groups: usize,
    names: &'a mut HashMap<String, usize>,
    /// Where the leading run of global flag groups `(?i)(?x)` ends.
    flags_end: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn rest_starts_with(&self, s: &str) -> bool {
        let want: Vec<char> = s.chars().collect();
        self.chars.len() >= self.pos + want.len() && self.chars[self.pos..self.pos + want.len()] == want[..]
    }

    fn skip_verbose(&mut self) {
        if self.flags & VERBOSE == 0 {
            return;
        }
        while let Some(c) = self.peek() {
            if c.is_whitespace() {
                self.pos += 1;
            } else if c == '#' {
                while let Some(c) = self.peek() {
                    self.pos += 1;
                    if c == '\n' {
                        break;
                    }
                }
            } else {
                break;
            }
        }
    }

    fn alternation(&mut self) -> Node {
        let mut branches = vec![self.concat()];
        while self.eat('|') {
            branches.push(self.concat());
        }
        if branches.len() == 1 {
            branches.pop().unwrap()
        } else {
            Node::Alt(branches)
        }
    }

    fn concat(&mut self) -> Node {
        let mut items = Vec::new();
        loop {
            self.skip_verbose();
            match self.peek() {
                None | Some('|') | Some(')') => break,
                _ => {}
            }
            let atom = self.atom();
            let atom = self.quantified(atom);
            items.push(atom);
        }
        match items.len() {
            0 => Node::Empty,
            1 => items.pop().unwrap(),
            _ => Node::Concat(items),
        }
    }

    fn number(&mut self) -> Option<usize> {
        let start = self.pos;
        while matches!(self.peek(), Some(c) if c.is_ascii_digit()) {
            self.pos += 1;
        }
        if start == self.pos {
            None
        } else {
            self.chars[start..self.pos].iter().collect::<String>().parse().ok()
        }
    }

    fn quantified(&mut self, atom: Node) -> Node {
        self.skip_verbose();
        let start = self.pos;
        let (min, max) = match self.peek() {
            Some('*') => {
                self.pos += 1;
                (0, None)
            }
            Some('+') => {
                self.pos += 1;
                (1, None)
            }
            Some('?') => {
                self.pos += 1;
                (0, Some(1))
            }
            Some('{') => {
                self.pos += 1;
                let lo = self.number();
                let (lo, hi) = if self.eat(',') {
                    (lo.unwrap_or(0), self.number())
                } else {
                    match lo {
                        Some(n) => (n, Some(n)),
                        None => {
                            self.pos = start;
                            return atom;
                        }
                    }
                };
                if !self.eat('}') {
                    self.pos = start; // not a quantifier: `{` is a literal
                    return atom;
                }
                if let Some(h) = hi {
                    if h < lo {
                        error("min repeat greater than max repeat");
                    }
                }
                (lo, hi)
            }
            _ => return atom,
        };
        if matches!(atom, Node::Empty | Node::LineStart | Node::LineEnd | Node::TextStart | Node::TextEnd)
            || matches!(atom, Node::Repeat { .. })
        {
            error("nothing to repeat");
        }
        let greedy = !self.eat('?');
        if self.peek() == Some('+') {
            error("unsupported possessive quantifier");
        }
        Node::Repeat { node: Box::new(atom), min, max, greedy }
    }

    fn atom(&mut self) -> Node {
        let c = self.peek().unwrap();
        self.pos += 1;
        match c {
            '.' => Node::Any,
            '^' => Node::LineStart,
            '$' => Node::LineEnd,
            '[' => self.class(),
            '(' => self.group(),
            '\\' => self.escape(false).unwrap_or_else(|item| match item {
                Item::Char(c) => Node::Char(c),
                other => Node::Class(vec![other], false),
            }),
            '*' | '+' | '?' => error("nothing to repeat"),
            c => Node::Char(c),
        }
    }

    fn group(&mut self) -> Node {
        let group_start = self.pos - 1;
        if self.eat('?') {
            if self.eat(':') {
                let inner = self.alternation();
                self.close();
                return Node::Group(Box::new(inner), None);
            }
            if self.eat('#') {
                while let Some(c) = self.peek() {
                    self.pos += 1;
                    if c == ')' {
                        return Node::Empty;
                    }
                }
                error("missing ), unterminated comment");
            }
            if self.rest_starts_with("P<") {
                self.pos += 2;
                let name = self.name('>');
                self.groups += 1;
                let index = self.groups;
                if self.names.insert(name.clone(), index).is_some() {
                    error(&format!("redefinition of group name '{}'", name));
                }
                let inner = self.alternation();
                self.close();
                return Node::Group(Box::new(inner), Some(index));
            }
            if self.rest_starts_with("P=") {
                self.pos += 2;
                let name = self.name(')');
                return match self.names.get(&name) {
                    Some(&i) => Node::Backref(i),
                    None => error(&format!("unknown group name '{}'", name)),
                };
            }
            for (prefix, ahead, negate) in [("=", true, false), ("!", true, true), ("<=", false, false), ("<!", false, true)] {
                if self.rest_starts_with(prefix) {
                    self.pos += prefix.len();
                    let inner = self.alternation();
                    self.close();
                    let width = if ahead {
                        0
                    } else {
                        fixed_width(&inner).unwrap_or_else(|| error("look-behind requires fixed-width pattern"))
                    };
                    return Node::Look { node: Box::new(inner), ahead, negate, width };
                }
            }
            let mut flags = 0;
            while let Some(c) = self.peek() {
                let flag = match c {
                    'i' => IGNORECASE,
                    'm' => MULTILINE,
                    's' => DOTALL,
                    'x' => VERBOSE,
                    'u' => UNICODE,
                    'a' => ASCII,
                    'L' => error("unsupported flag: LOCALE"),
                    _ => break,
                };
                flags |= flag;
                self.pos += 1;
            }
            if flags != 0 && self.eat(')') {
                if group_start != self.flags_end {
                    error("global flags not at the start of the expression");
                }
                self.flags_end = self.pos;
                self.flags |= flags;
                return Node::Empty;
            }
            error("unsupported group syntax: scoped flags, conditional or atomic group");
        }
        self.groups += 1;
        let index = self.groups;
        let inner = self.alternation();
        self.close();
        Node::Group(Box::new(inner), Some(index))
    }

    fn close(&mut self) {
        if !self.eat(')') {
            error("missing ), unterminated subpattern");
        }
    }

    fn name(&mut self, end: char) -> String {
        let start = self.pos;
        while matches!(self.peek(), Some(c) if c != end) {
            self.pos += 1;
        }
        let name: String = self.chars[start..self.pos].iter().collect();
        if !self.eat(end) || name.is_empty() {
            error("bad group name");
        }
        name
    }

    /// An escape after `\`: Err(item) for a character or a class item, Ok(node) for an assertion
    /// or a back-reference (outside classes only).
    fn escape(&mut self, in_class: bool) -> Result<Node, Item> {
        let c = match self.peek() {
            Some(c) => c,
            None => error("bad escape (end of pattern)"),
        };
        self.pos += 1;
        let item = match c {
            'd' => Item::Digit(true),
            'D' => Item::Digit(false),
            'w' => Item::Word(true),
            'W' => Item::Word(false),
            's' => Item::Space(true),
            'S' => Item::Space(false),
            'n' => Item::Char('\n'),
            't' => Item::Char('\t'),
            'r' => Item::Char('\r'),
            'f' => Item::Char('\x0c'),
            'v' => Item::Char('\x0b'),
            'a' => Item::Char('\x07'),
            'b' if in_class => Item::Char('\x08'),
            'b' => return Ok(Node::WordBoundary(true)),
            'B' if !in_class => return Ok(Node::WordBoundary(false)),
            'A' if !in_class => return Ok(Node::TextStart),
            'Z' if !in_class => return Ok(Node::TextEnd),
            'x' => Item::Char(self.hex(2)),
            'u' => Item::Char(self.hex(4)),
            'U' => Item::Char(self.hex(8)),
            'N' => error("unsupported escape \\N"),
            '0' => {
                let mut value = 0u32;
                let mut n = 0;
                while n < 2 && matches!(self.peek(), Some(d) if ('0'..='7').contains(&d)) {
                    value = value * 8 + self.peek().unwrap().to_digit(8).unwrap();
                    self.pos += 1;
                    n += 1;
                }
                Item::Char(char::from_u32(value).unwrap())
            }
            d if d.is_ascii_digit() => {
                if in_class {
                    error("bad escape in class");
                }
                let mut number = d.to_digit(10).unwrap() as usize;
                if let Some(e) = self.peek().filter(|e| e.is_ascii_digit()) {
                    number = number * 10 + e.to_digit(10).unwrap() as usize;
                    self.pos += 1;
                }
                if number > self.groups {
                    error(&format!("invalid group reference {}", number));
                }
                return Ok(Node::Backref(number));
            }
            c if c.is_ascii_alphanumeric() => error(&format!("bad escape \\{}", c)),
            c => Item::Char(c),
        };
        Err(item)
    }

    fn hex(&mut self, digits: usize) -> char {
        if self.pos + digits > self.chars.len() {
            error("incomplete escape");
        }
        let text: String = self.chars[self.pos..self.pos + digits].iter().collect();
        self.pos += digits;
        u32::from_str_radix(&text, 16)
            .ok()
            .and_then(char::from_u32)
            .unwrap_or_else(|| error(&format!("bad escape {}", text)))
    }

    fn class(&mut self) -> Node {
        let negate = self.eat('^');
        let mut items = Vec::new();
        let mut first = true;
        loop {
            let c = match self.peek() {
                Some(c) => c,
                None => error("unterminated character set"),
            };
            if c == ']' && !first {
                self.pos += 1;
                break;
            }
            first = false;
            self.pos += 1;
            let item = if c == '\\' {
                match self.escape(true) {
                    Err(item) => item,
                    Ok(_) => error("bad escape in class"),
                }
            } else {
                Item::Char(c)
            };
            if let Item::Char(lo) = item {
                if self.peek() == Some('-') && self.chars.get(self.pos + 1).is_some_and(|&n| n != ']') {
                    self.pos += 1;
                    let hc = self.peek().unwrap();
                    self.pos += 1;
                    let hi = if hc == '\\' {
                        match self.escape(true) {
                            Err(Item::Char(h)) => h,
                            _ => error("bad character range"),
                        }
                    } else {
                        hc
                    };
                    if hi < lo {
                        error("bad character range");
                    }
                    items.push(Item::Range(lo, hi));
                    continue;
                }
            }
            items.push(item);
        }
        Node::Class(items, negate)
    }
}

fn fixed_width(node: &Node) -> Option<usize> {
    match node {
        Node::Empty | Node::LineStart | Node::LineEnd | Node::TextStart | Node::TextEnd => Some(0),
        Node::WordBoundary(_) | Node::Look { .. } => Some(0),
        Node::Char(_) | Node::Any | Node::Class(..) => Some(1),
        Node::Group(inner, _) => fixed_width(inner),
        Node::Concat(items) => items.iter().map(fixed_width).sum(),
        Node::Alt(branches) => {
            let widths: Option<Vec<usize>> = branches.iter().map(fixed_width).collect();
            let widths = widths?;
            if widths.iter().all(|w| *w == widths[0]) {
                Some(widths[0])
            } else {
                None
            }
        }
        Node::Repeat { node, min, max, .. } if Some(*min) == *max => fixed_width(node).map(|w| w * min),
        Node::Repeat { .. } | Node::Backref(_) => None,
    }
}

/// `re.compile(pattern, flags)`; panics with `re.error: ...` on an invalid pattern, as Python raises.
pub fn compile(pattern: &str, flags: isize) -> Pattern {
    let mut names = HashMap::new();
    let mut parser =
        Parser { chars: pattern.chars().collect(), pos: 0, flags, groups: 0, names: &mut names, flags_end: 0 };
    let node = parser.alternation();
    if parser.pos < parser.chars.len() {
        error("unbalanced parenthesis");
    }
    let (groups, flags) = (parser.groups, parser.flags);
    Pattern { pattern: pattern.to_string(), flags: flags & !UNICODE, groups, names, node }
}

type Caps = Vec<Option<(usize, usize)>>;

struct Matcher<'t> {
    text: &'t [char],
    flags: isize,
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is_ascii_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn fold(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

impl<'t> Matcher<'t> {
    fn eq(&self, a: char, b: char) -> bool {
        a == b
            || (self.flags & IGNORECASE != 0
                && if self.flags & ASCII != 0 { a.eq_ignore_ascii_case(&b) } else { fold(a) == fold(b) })
    }

    fn word(&self, c: char) -> bool {
        if self.flags & ASCII != 0 {
            is_ascii_word(c)
        } else {
            is_word(c)
        }
    }

    fn item(&self, item: &Item, c: char) -> bool {
        match item {
            Item::Char(x) => self.eq(*x, c),
            Item::Range(lo, hi) => {
                (*lo <= c && c <= *hi)
                    || (self.flags & IGNORECASE != 0
                        && c.to_lowercase().chain(c.to_uppercase()).any(|d| *lo <= d && d <= *hi))
            }
            Item::Digit(yes) if self.flags & ASCII != 0 => c.is_ascii_digit() == *yes,
            Item::Space(yes) if self.flags & ASCII != 0 => matches!(c, ' ' | '\t'..='\r') == *yes,
            Item::Digit(yes) => c.is_numeric() == *yes,
            Item::Word(yes) => self.word(c) == *yes,
            Item::Space(yes) => c.is_whitespace() == *yes,
        }
    }

    fn boundary(&self, pos: usize) -> bool {
        let before = pos > 0 && self.word(self.text[pos - 1]);
        let after = pos < self.text.len() && self.word(self.text[pos]);
        before != after
    }

    fn m(&self, node: &Node, pos: usize, caps: &mut Caps, k: &mut dyn FnMut(usize, &mut Caps) -> bool) -> bool {
        let n = self.text.len();
        match node {
            Node::Empty => k(pos, caps),
            Node::Char(c) => pos < n && self.eq(*c, self.text[pos]) && k(pos + 1, caps),
            Node::Any => pos < n && (self.flags & DOTALL != 0 || self.text[pos] != '\n') && k(pos + 1, caps),
            Node::Class(items, negate) => {
                pos < n && items.iter().any(|i| self.item(i, self.text[pos])) != *negate && k(pos + 1, caps)
            }
            Node::LineStart => {
                (pos == 0 || (self.flags & MULTILINE != 0 && self.text[pos - 1] == '\n')) && k(pos, caps)
            }
            Node::LineEnd => {
                let at_end = pos == n || (pos + 1 == n && self.text[pos] == '\n');
                (at_end || (self.flags & MULTILINE != 0 && self.text[pos] == '\n')) && k(pos, caps)
            }
            Node::TextStart => pos == 0 && k(pos, caps),
            Node::TextEnd => pos == n && k(pos, caps),
            Node::WordBoundary(yes) => self.boundary(pos) == *yes && k(pos, caps),
            Node::Group(inner, None) => self.m(inner, pos, caps, k),
            Node::Group(inner, Some(i)) => {
                let i = *i;
                self.m(inner, pos, caps, &mut |end, caps: &mut Caps| {
                    let old = caps[i];
                    caps[i] = Some((pos, end));
                    if k(end, caps) {
                        true
                    } else {
                        caps[i] = old;
                        false
                    }
                })
            }
            Node::Concat(items) => self.seq(items, pos, caps, k),
            Node::Alt(branches) => branches.iter().any(|b| self.m(b, pos, caps, k)),
            Node::Repeat { node, min, max, greedy } => self.repeat(node, *min, *max, *greedy, 0, pos, caps, k),
            Node::Backref(i) => match caps[*i] {
                None => false,
                Some((s, e)) => {
                    let len = e - s;
                    pos + len <= n
                        && (0..len).all(|j| self.eq(self.text[s + j], self.text[pos + j]))
                        && k(pos + len, caps)
                }
            },
            Node::Look { node, ahead, negate, width } => {
                let start = if *ahead {
                    pos
                } else if pos >= *width {
                    pos - width
                } else {
                    return *negate && k(pos, caps);
                };
                let mut trial = caps.clone();
                let found = self.m(node, start, &mut trial, &mut |end, _| *ahead || end == pos);
                if found == *negate {
                    return false;
                }
                if !*negate {
                    *caps = trial;
                }
                k(pos, caps)
            }
        }
    }

    fn seq(&self, items: &[Node], pos: usize, caps: &mut Caps, k: &mut dyn FnMut(usize, &mut Caps) -> bool) -> bool {
        match items.split_first() {
            None => k(pos, caps),
            Some((first, rest)) => self.m(first, pos, caps, &mut |p, caps: &mut Caps| self.seq(rest, p, caps, k)),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn repeat(
        &self,
        node: &Node,
        min: usize,
        max: Option<usize>,
        greedy: bool,
        count: usize,
        pos: usize,
        caps: &mut Caps,
        k: &mut dyn FnMut(usize, &mut Caps) -> bool,
    ) -> bool {
        if count < min {
            return self.m(node, pos, caps, &mut |p, caps: &mut Caps| {
                self.repeat(node, min, max, greedy, count + 1, p, caps, k)
            });
        }
        let more = max.map_or(true, |m| count < m);
        if greedy {
            if more && self.iterate(node, min, max, greedy, count, pos, caps, k) {
                return true;
            }
            k(pos, caps)
        } else {
            if k(pos, caps) {
                return true;
            }
            more && self.iterate(node, min, max, greedy, count, pos, caps, k)
        }
    }

    /// One more iteration of a repetition, then the rest of it. An iteration that matched nothing
    /// ends the repetition (keeping its captures, as sre does), so `(a*)*` terminates.
    #[allow(clippy::too_many_arguments)]
    fn iterate(
        &self,
        node: &Node,
        min: usize,
        max: Option<usize>,
        greedy: bool,
        count: usize,
        pos: usize,
        caps: &mut Caps,
        k: &mut dyn FnMut(usize, &mut Caps) -> bool,
    ) -> bool {
        self.m(node, pos, caps, &mut |p, caps: &mut Caps| {
            if p == pos {
                k(p, caps)
            } else {
                self.repeat(node, min, max, greedy, count + 1, p, caps, k)
            }
        })
    }
}

impl Pattern {
    /// The first match starting at `start` or later; with `must_advance`, not an empty one at `start`
    /// (CPython's rule for the next match after an empty one).
    fn find(&self, text: &[char], start: usize, must_advance: bool, anchored: bool, full: bool) -> Option<Caps> {
        let matcher = Matcher { text, flags: self.flags };
        let last = if anchored { start } else { text.len() };
        for at in start..=last {
            let mut caps: Caps = vec![None; self.groups + 1];
            let mut end_found = None;
            let ok = matcher.m(&self.node, at, &mut caps, &mut |end, _| {
                if (must_advance && at == start && end == start) || (full && end != text.len()) {
                    return false;
                }
                end_found = Some(end);
                true
            });
            if ok {
                caps[0] = Some((at, end_found.unwrap()));
                return Some(caps);
            }
        }
        None
    }

    fn to_match(&self, string: &str, caps: Caps) -> Match {
        Match { string: string.to_string(), spans: caps, names: self.names.clone() }
    }

    /// `pattern.groups`: how many capturing groups the pattern has.
    pub fn groups(&self) -> isize {
        self.groups as isize
    }

    /// `pattern.search(string)`.
    pub fn search(&self, string: &str) -> Option<Match> {
        let text: Vec<char> = string.chars().collect();
        self.find(&text, 0, false, false, false).map(|c| self.to_match(string, c))
    }

    /// `pattern.match(string)`: anchored at the start.
    pub fn match_(&self, string: &str) -> Option<Match> {
        let text: Vec<char> = string.chars().collect();
        self.find(&text, 0, false, true, false).map(|c| self.to_match(string, c))
    }

    /// `pattern.fullmatch(string)`.
    pub fn fullmatch(&self, string: &str) -> Option<Match> {
        let text: Vec<char> = string.chars().collect();
        self.find(&text, 0, false, true, true).map(|c| self.to_match(string, c))
    }

    /// `pattern.search(string, pos, endpos)`: as if the string ended at `endpos`, from `pos` on
    /// (`^` still matches only at the real start or after a newline); spans are in the whole string.
    pub fn search_at(&self, string: &str, pos: isize, endpos: isize) -> Option<Match> {
        self.find_within(string, pos, endpos, false, false)
    }

    /// `pattern.match(string, pos, endpos)`: anchored at `pos`.
    pub fn match_at(&self, string: &str, pos: isize, endpos: isize) -> Option<Match> {
        self.find_within(string, pos, endpos, true, false)
    }

    /// `pattern.fullmatch(string, pos, endpos)`: from `pos` to exactly `endpos`.
    pub fn fullmatch_at(&self, string: &str, pos: isize, endpos: isize) -> Option<Match> {
        self.find_within(string, pos, endpos, true, true)
    }

    fn find_within(&self, string: &str, pos: isize, endpos: isize, anchored: bool, full: bool) -> Option<Match> {
        let text: Vec<char> = string.chars().collect();
        // CPython clamps both to [0, len]; a start past the end finds nothing.
        let end = endpos.clamp(0, text.len() as isize) as usize;
        let start = pos.max(0) as usize;
        if start > end {
            return None;
        }
        self.find(&text[..end], start, false, anchored, full).map(|c| self.to_match(string, c))
    }

    /// `pattern.finditer(string)`, materialised.
    pub fn finditer(&self, string: &str) -> Vec<Match> {
        let text: Vec<char> = string.chars().collect();
        let mut out = Vec::new();
        let (mut pos, mut must_advance) = (0, false);
        while pos <= text.len() {
            match self.find(&text, pos, must_advance, false, false) {
                None => break,
                Some(caps) => {
                    let (s, e) = caps[0].unwrap();
                    must_advance = s == e;
                    pos = e;
                    out.push(self.to_match(string, caps));
                }
            }
        }
        out
    }

    /// `pattern.findall(string)` for a pattern with at most one group (the whole match, or the group).
    pub fn findall(&self, string: &str) -> Vec<String> {
        if self.groups > 1 {
            error("findall with several groups returns tuples: not supported");
        }
        self.finditer(string).iter().map(|m| m.group_or_empty(self.groups as isize)).collect()
    }

    /// `pattern.sub(repl, string, count)` with a template `repl` (`\1`, `\g<1>`, `\g<name>`, `\n`...).
    pub fn sub(&self, repl: &str, string: &str, count: isize) -> String {
        self.sub_fn(|m| m.expand(repl), string, count)
    }

    /// `pattern.sub(function, string, count)`: each match replaced by what `function` returns for it.
    pub fn sub_fn<F: FnMut(&Match) -> String>(&self, mut function: F, string: &str, count: isize) -> String {
        let text: Vec<char> = string.chars().collect();
        let mut out = String::new();
        let mut last = 0;
        for (done, m) in self.finditer(string).into_iter().enumerate() {
            if count > 0 && done as isize >= count {
                break;
            }
            let (s, e) = m.spans[0].unwrap();
            out.extend(&text[last..s]);
            out.push_str(&function(&m));
            last = e;
        }
        out.extend(&text[last..]);
        out
    }

    /// `pattern.split(string, maxsplit)` for a pattern without groups.
    pub fn split(&self, string: &str, maxsplit: isize) -> Vec<String> {
        if self.groups > 0 {
            error("split with groups returns the groups too: not supported");
        }
        let text: Vec<char> = string.chars().collect();
        let mut out = Vec::new();
        let mut last = 0;
        for (done, m) in self.finditer(string).into_iter().enumerate() {
            if maxsplit > 0 && done as isize >= maxsplit {
                break;
            }
            let (s, e) = m.spans[0].unwrap();
            out.push(text[last..s].iter().collect());
            last = e;
        }
        out.push(text[last..].iter().collect());
        out
    }
}

impl Match {
    fn index(&self, group: isize) -> usize {
        if group < 0 || group as usize >= self.spans.len() {
            panic!("IndexError: no such group");
        }
        group as usize
    }

    fn text(&self, span: (usize, usize)) -> String {
        self.string.chars().skip(span.0).take(span.1 - span.0).collect()
    }

    /// `m.group(i)`: panics where Python would return None (the group did not take part); see
    /// `group_opt` for the Optional form.
    pub fn group(&self, group: isize) -> String {
        self.group_opt(group).unwrap_or_else(|| panic!("TypeError: group {} did not participate in the match", group))
    }

    /// `m.group(i)` as Python returns it: None when the group did not take part.
    pub fn group_opt(&self, group: isize) -> Option<String> {
        self.spans[self.index(group)].map(|s| self.text(s))
    }

    fn group_or_empty(&self, group: isize) -> String {
        self.group_opt(group).unwrap_or_default()
    }

    /// `m.group("name")`; panics where Python would return None, like `group`.
    pub fn group_named(&self, name: &str) -> String {
        match self.names.get(name) {
            Some(&i) => self.group(i as isize),
            None => panic!("IndexError: no such group"),
        }
    }

    /// `m.group("name")` as Python returns it: None when the group did not take part.
    pub fn group_named_opt(&self, name: &str) -> Option<String> {
        match self.names.get(name) {
            Some(&i) => self.group_opt(i as isize),
            None => panic!("IndexError: no such group"),
        }
    }

    /// `m.start(i)` in characters (-1 when the group did not take part).
    pub fn start(&self, group: isize) -> isize {
        self.spans[self.index(group)].map_or(-1, |s| s.0 as isize)
    }

    /// `m.end(i)` in characters (-1 when the group did not take part).
    pub fn end(&self, group: isize) -> isize {
        self.spans[self.index(group)].map_or(-1, |s| s.1 as isize)
    }

    /// `m.span(i)`.
    pub fn span(&self, group: isize) -> (isize, isize) {
        (self.start(group), self.end(group))
    }

    /// `[m.span(i) for i in range(pattern.groups + 1)]`: every group's span, (-1, -1) for a group
    /// that did not take part.
    pub fn spans(&self) -> Vec<(isize, isize)> {
        (0..self.spans.len() as isize).map(|g| self.span(g)).collect()
    }

    /// `m.expand(template)`: `\1`..`\99`, `\g<n>`, `\g<name>` and the character escapes.
    pub fn expand(&self, template: &str) -> String {
        let t: Vec<char> = template.chars().collect();
        let mut out = String::new();
        let mut i = 0;
        while i < t.len() {
            if t[i] != '\\' || i + 1 == t.len() {
                out.push(t[i]);
                i += 1;
                continue;
            }
            let c = t[i + 1];
            i += 2;
            match c {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '\\' => out.push('\\'),
                'g' if i < t.len() && t[i] == '<' => {
                    let close = t[i..].iter().position(|&x| x == '>').unwrap_or_else(|| error("missing >"));
                    let name: String = t[i + 1..i + close].iter().collect();
                    i += close + 1;
                    let value = match name.parse::<isize>() {
                        Ok(n) => self.group_or_empty(n),
                        Err(_) => self.group_named_opt(&name).unwrap_or_default(),
                    };
                    out.push_str(&value);
                }
                d if d.is_ascii_digit() => {
                    let mut n = d.to_digit(10).unwrap() as isize;
                    if i < t.len() && t[i].is_ascii_digit() {
                        n = n * 10 + t[i].to_digit(10).unwrap() as isize;
                        i += 1;
                    }
                    out.push_str(&self.group_or_empty(n));
                }
                c if c.is_ascii_alphabetic() => error(&format!("bad escape \\{}", c)),
                c => {
                    out.push('\\');
                    out.push(c);
                }
            }
        }
        out
    }
}

/// `re.escape(s)`: every character that is special in a pattern, backslashed.
pub fn escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "()[]{}?*+-|^$\\.&~# \t\n\r\x0b\x0c".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(p: &str, s: &str) -> Option<Vec<Option<String>>> {
        compile(p, 0).search(s).map(|m| (0..=m.spans.len() - 1).map(|i| m.group_opt(i as isize)).collect())
    }

    #[test]
    fn literals_classes_and_anchors() {
        assert_eq!(groups(r"b+c", "abbbcd"), Some(vec![Some("bbbc".into())]));
        assert_eq!(groups(r"^\d{2,3}$", "1234"), None);
        assert_eq!(groups(r"[a-c]+", "xxcabz"), Some(vec![Some("cab".into())]));
        assert_eq!(groups(r"[^a-c\s]+", "ab  xyz"), Some(vec![Some("xyz".into())]));
        assert!(compile(r"\bcat\b", 0).search("a cat!").is_some());
        assert!(compile(r"\bcat\b", 0).search("concat").is_none());
    }

    #[test]
    fn groups_named_groups_and_backreferences() {
        let m = compile(r"(?P<word>\w+) (?P=word)", 0).search("say hello hello there").unwrap();
        assert_eq!(m.group(0), "hello hello");
        assert_eq!(m.group_named("word"), "hello");
        assert_eq!(groups(r"(a)|(b)", "b"), Some(vec![Some("b".into()), None, Some("b".into())]));
        assert_eq!(groups(r"(\w)\1", "abccd"), Some(vec![Some("cc".into()), Some("c".into())]));
    }

    #[test]
    fn lazy_and_greedy_quantifiers() {
        assert_eq!(groups(r"<.+?>", "<a><b>"), Some(vec![Some("<a>".into())]));
        assert_eq!(groups(r"<.+>", "<a><b>"), Some(vec![Some("<a><b>".into())]));
        assert_eq!(groups(r"(a*)*b", "aaab"), Some(vec![Some("aaab".into()), Some("".into())]));
        assert_eq!(groups(r"x{2}", "xxx"), Some(vec![Some("xx".into())]));
        assert_eq!(groups(r"a{,2}", "aaa"), Some(vec![Some("aa".into())]));
        assert_eq!(groups(r"a{x", "a{x"), Some(vec![Some("a{x".into())]));
    }

    #[test]
    fn lookaround() {
        assert_eq!(groups(r"\w+(?=!)", "hi there!"), Some(vec![Some("there".into())]));
        assert_eq!(groups(r"(?<!\$)\b\d+", "$5 and 7"), Some(vec![Some("7".into())]));
        assert_eq!(groups(r"(?<=-)\w+", "a-bc"), Some(vec![Some("bc".into())]));
        assert_eq!(groups(r"foo(?!bar)", "foobar foobaz").map(|g| g.len()), Some(1));
    }

    #[test]
    fn flags() {
        assert!(compile("HELLO", IGNORECASE).search("say hello").is_some());
        assert!(compile(r"^\w+$", ASCII).search("caf\u{e9}").is_none());
        assert!(compile(r"^\w+$", 0).search("caf\u{e9}").is_some());
        assert!(compile(r"(?a)\bK\b", IGNORECASE).search("\u{e9}k").is_some());
        assert!(compile("(?i)HELLO", 0).search("say hello").is_some());
        assert_eq!(compile("^b", MULTILINE).findall("a\nb\nb"), vec!["b", "b"]);
        assert!(compile("a.b", DOTALL).search("a\nb").is_some());
        assert!(compile("a.b", 0).search("a\nb").is_none());
        assert!(compile("a b # comment\n c", VERBOSE).search("abc").is_some());
    }

    #[test]
    fn sub_split_findall_follow_pythons_empty_match_rules() {
        assert_eq!(compile("x*", 0).sub("-", "abxd", 0), "-a-b--d-");
        assert_eq!(compile(r"(\w+)@(\w+)", 0).sub(r"\2 at \g<1>", "me@home", 0), "home at me");
        assert_eq!(compile(",", 0).split("a,b,,c", 0), vec!["a", "b", "", "c"]);
        assert_eq!(compile(",", 0).split("a,b,c", 1), vec!["a", "b,c"]);
        assert_eq!(compile(r"\d", 0).findall("a1b22"), vec!["1", "2", "2"]);
        assert_eq!(compile(r"(\d)x", 0).findall("1x2y3x"), vec!["1", "3"]);
        assert_eq!(compile("", 0).sub("-", "ab", 0), "-a-b-");
        assert_eq!(compile(r"\w+", 0).sub_fn(|m| m.group(0).to_uppercase(), "ab cd", 1), "AB cd");
    }

    #[test]
    fn match_fullmatch_positions_by_character() {
        let p = compile(r"é+", 0);
        let m = p.search("aéé").unwrap();
        assert_eq!((m.start(0), m.end(0)), (1, 3));
        assert!(compile("ab", 0).match_("xab").is_none());
        assert!(compile("ab|abc", 0).fullmatch("abc").is_some());
        assert_eq!(escape("a.b*c"), r"a\.b\*c");
    }

    #[test]
    #[should_panic(expected = "re.error")]
    fn invalid_patterns_raise() {
        compile("(ab", 0);
    }

    #[test]
    #[should_panic(expected = "re.error: unsupported")]
    fn unsupported_syntax_is_named() {
        compile("(?i:ab)", 0);
    }
}
