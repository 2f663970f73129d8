//! What the dynamic loader reads from an ELF file: the interpreter, the
//! needed libraries, their search paths and the object's own soname.
//!
//! Read through the program headers (PT_INTERP, PT_DYNAMIC, PT_LOAD) like
//! the loader does, so that binaries without section headers work too.

use object::elf;
use object::read::elf::{Dyn as _, FileHeader, ProgramHeader as _};
use object::{Endianness, FileKind, ReadRef};

/// ELF word size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Elf32,
    Elf64,
}

/// The loader-relevant contents of one ELF object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfInfo {
    pub class: Class,
    pub little_endian: bool,
    /// `e_machine`, one of the `EM_*` constants.
    pub machine: u16,
    /// PT_INTERP: the dynamic loader's path.
    pub interpreter: Option<String>,
    pub soname: Option<String>,
    /// DT_NEEDED, in order.
    pub needed: Vec<String>,
    /// DT_RPATH entries; empty when DT_RUNPATH is present, because the
    /// loader then ignores DT_RPATH.
    pub rpath: Vec<String>,
    /// DT_RUNPATH entries.
    pub runpath: Vec<String>,
    /// DF_1_NODEFLIB: do not search the cache and default directories.
    pub nodeflib: bool,
}

impl ElfInfo {
    /// Whether the loader would accept `self` as a dependency of `other`
    /// (it skips libraries of another class, byte order or machine).
    pub fn compatible_with(&self, other: &ElfInfo) -> bool {
        self.class == other.class
            && self.little_endian == other.little_endian
            && self.machine == other.machine
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ElfError {
    #[error("not an ELF file ({0})")]
    NotElf(String),
    #[error("malformed ELF file: {0}")]
    Malformed(String),
}

fn malformed(e: impl std::fmt::Display) -> ElfError {
    ElfError::Malformed(e.to_string())
}

/// Parses the loader-relevant parts of an ELF object.
pub fn parse<'data, R: ReadRef<'data>>(data: R) -> Result<ElfInfo, ElfError> {
    match FileKind::parse(data) {
        Ok(FileKind::Elf32) => parse_as::<elf::FileHeader32<Endianness>, R>(data, Class::Elf32),
        Ok(FileKind::Elf64) => parse_as::<elf::FileHeader64<Endianness>, R>(data, Class::Elf64),
        Ok(other) => Err(ElfError::NotElf(format!("{other:?}"))),
        Err(e) => Err(ElfError::NotElf(e.to_string())),
    }
}

fn parse_as<'data, Elf, R>(data: R, class: Class) -> Result<ElfInfo, ElfError>
where
    Elf: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let header = Elf::parse(data).map_err(malformed)?;
    let endian = header.endian().map_err(malformed)?;
    let phdrs = header.program_headers(endian, data).map_err(malformed)?;

    let mut interpreter = None;
    let mut dynamic = None;
    for ph in phdrs {
        if let Some(i) = ph.interpreter(endian, data).map_err(malformed)? {
            interpreter = Some(utf8(i, "PT_INTERP")?);
        }
        if let Some(d) = ph.dynamic(endian, data).map_err(malformed)? {
            dynamic = Some(d);
        }
    }

    let mut info = ElfInfo {
        class,
        little_endian: endian == Endianness::Little,
        machine: header.e_machine(endian),
        interpreter,
        soname: None,
        needed: Vec::new(),
        rpath: Vec::new(),
        runpath: Vec::new(),
        nodeflib: false,
    };
    let Some(dynamic) = dynamic else {
        // Statically linked: nothing to load.
        return Ok(info);
    };

    let mut entries = Vec::new();
    let (mut strtab, mut strsz) = (None, None);
    for d in dynamic {
        let tag: i64 = d.d_tag(endian).into();
        let val: u64 = d.d_val(endian).into();
        match tag {
            elf::DT_NULL => break,
            elf::DT_STRTAB => strtab = Some(val),
            elf::DT_STRSZ => strsz = Some(val),
            elf::DT_FLAGS_1 => info.nodeflib = val & u64::from(elf::DF_1_NODEFLIB) != 0,
            _ => entries.push((tag, val)),
        }
    }
    let needs_strings = entries.iter().any(|(t, _)| is_string_tag(*t));
    if !needs_strings {
        return Ok(info);
    }
    let (Some(strtab), Some(strsz)) = (strtab, strsz) else {
        return Err(ElfError::Malformed(
            "dynamic section has string entries but no DT_STRTAB/DT_STRSZ".into(),
        ));
    };
    // DT_STRTAB is a virtual address: map it to a file offset through the
    // PT_LOAD segment that contains it.
    let loads: Vec<Segment> = phdrs
        .iter()
        .filter(|ph| ph.p_type(endian) == elf::PT_LOAD)
        .map(|ph| Segment {
            vaddr: ph.p_vaddr(endian).into(),
            offset: ph.p_offset(endian).into(),
            filesz: ph.p_filesz(endian).into(),
        })
        .collect();
    let offset = vaddr_to_offset(&loads, strtab, strsz).ok_or_else(|| {
        ElfError::Malformed(format!(
            "DT_STRTAB {strtab:#x} (+{strsz}) is not inside a PT_LOAD segment"
        ))
    })?;
    let strings = data
        .read_bytes_at(offset, strsz)
        .map_err(|()| ElfError::Malformed("dynamic string table is out of bounds".into()))?;

    for (tag, val) in entries {
        if !is_string_tag(tag) {
            continue;
        }
        let s = string_at(strings, val)?;
        match tag {
            elf::DT_NEEDED => info.needed.push(s),
            elf::DT_SONAME => info.soname = Some(s),
            elf::DT_RPATH => info.rpath.extend(split_path_list(&s)),
            elf::DT_RUNPATH => info.runpath.extend(split_path_list(&s)),
            _ => {}
        }
    }
    if !info.runpath.is_empty() {
        info.rpath.clear();
    }
    Ok(info)
}

fn is_string_tag(tag: i64) -> bool {
    matches!(
        tag,
        elf::DT_NEEDED | elf::DT_SONAME | elf::DT_RPATH | elf::DT_RUNPATH
    )
}

#[derive(Debug, Clone, Copy)]
struct Segment {
    vaddr: u64,
    offset: u64,
    filesz: u64,
}

/// The file offset of `[vaddr, vaddr+len)` if one segment's file image holds it.
fn vaddr_to_offset(loads: &[Segment], vaddr: u64, len: u64) -> Option<u64> {
    loads.iter().find_map(|s| {
        let end = vaddr.checked_add(len)?;
        let seg_end = s.vaddr.checked_add(s.filesz)?;
        (vaddr >= s.vaddr && end <= seg_end).then(|| s.offset + (vaddr - s.vaddr))
    })
}

fn string_at(table: &[u8], offset: u64) -> Result<String, ElfError> {
    let start = usize::try_from(offset)
        .ok()
        .filter(|&o| o < table.len())
        .ok_or_else(|| {
            ElfError::Malformed(format!("dynamic string offset {offset} out of bounds"))
        })?;
    let rest = &table[start..];
    let len = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
    utf8(&rest[..len], "dynamic string")
}

fn utf8(bytes: &[u8], what: &str) -> Result<String, ElfError> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| ElfError::Malformed(format!("{what} is not valid UTF-8")))
}

/// Splits a DT_RPATH/DT_RUNPATH value; empty entries are dropped (the
/// loader would read them as the current directory, which means nothing in
/// an image).
pub fn split_path_list(s: &str) -> Vec<String> {
    s.split(':')
        .filter(|e| !e.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_this_test_binary() {
        // The test binary is an ordinary dynamically linked executable.
        let exe = std::env::current_exe().unwrap();
        let data = std::fs::read(exe).unwrap();
        let info = parse(&*data).unwrap();
        assert_eq!(info.class, Class::Elf64);
        let interp = info.interpreter.as_deref().unwrap();
        assert!(interp.starts_with('/'), "{interp}");
        assert!(
            info.needed.iter().any(|n| n.starts_with("libc.so")),
            "{info:?}"
        );
        assert_eq!(info.soname, None);
        assert!(info.compatible_with(&info));
    }

    #[test]
    fn rejects_non_elf_input() {
        for data in [&b""[..], b"#!/bin/sh\necho hi\n", b"\x7fELF"] {
            assert!(parse(data).is_err(), "{data:?}");
        }
        assert!(matches!(
            parse(&b"#!/bin/sh\n"[..]),
            Err(ElfError::NotElf(_))
        ));
    }

    #[test]
    fn maps_virtual_addresses_through_load_segments() {
        let loads = [
            Segment {
                vaddr: 0x1000,
                offset: 0,
                filesz: 0x100,
            },
            Segment {
                vaddr: 0x4000,
                offset: 0x800,
                filesz: 0x200,
            },
        ];
        let cases = [
            (0x1000, 0x10, Some(0)),
            (0x10f0, 0x10, Some(0xf0)),
            (0x10f0, 0x11, None),
            (0x4010, 0x20, Some(0x810)),
            (0x3000, 1, None),
            (u64::MAX, 2, None),
        ];
        for (vaddr, len, want) in cases {
            assert_eq!(
                vaddr_to_offset(&loads, vaddr, len),
                want,
                "{vaddr:#x}+{len}"
            );
        }
    }

    #[test]
    fn reads_nul_terminated_strings() {
        let table = b"\0libc.so.6\0libm.so.6\0";
        assert_eq!(string_at(table, 1).unwrap(), "libc.so.6");
        assert_eq!(string_at(table, 11).unwrap(), "libm.so.6");
        assert_eq!(string_at(table, 0).unwrap(), "");
        assert!(string_at(table, 99).is_err());
    }

    #[test]
    fn splits_search_paths() {
        let cases: &[(&str, &[&str])] = &[
            ("", &[]),
            ("/a", &["/a"]),
            ("$ORIGIN/../lib:/opt/lib", &["$ORIGIN/../lib", "/opt/lib"]),
            ("/a::/b:", &["/a", "/b"]),
        ];
        for (input, want) in cases {
            assert_eq!(split_path_list(input), *want, "{input}");
        }
    }
}
