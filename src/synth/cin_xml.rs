//! DfE Children in Need census XML (anchors-csc.md section 2.1): one file per LA per census year,
//! `cin_<la>_<yyyy>.xml` with `yyyy` the census year end. The same data as the CSVs, as each census
//! return would have held it: a child is in a year's file when one of its CIN episodes is open at some
//! point in that year, and only what had happened by the file's `ReferenceDate` is written (an episode
//! open at 31 March appears in both years' files, the later one with its later events).
//!
//! `GenderCurrent` (1/2/0) up to 2023-24, `Sex` (M/F/U) from 2024-25; yes/no items as `true`/`false`;
//! a transfer-in conference as `DateOfInitialCPC` directly under `CINdetails`; dates of birth as the
//! first of the birth month; the pre-proceedings module (`PreProceedingsandFGDM`) from the 2026-27
//! file on. No UPN is ever written.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{Datelike, NaiveDate};
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use super::dates::{date_string, Clock, Window};
use super::model::{Child, Episode, PreProceedings};

type Xml = Writer<BufWriter<File>>;

struct YearFile {
    end_year: i32,
    start: NaiveDate,
    reference: NaiveDate,
    path: PathBuf,
    writer: Xml,
    children: u64,
}

/// The open census files of one LA, one per census year of the window.
pub struct CinXmlLa {
    files: Vec<YearFile>,
}

fn open(w: &mut Xml, name: &str) -> std::io::Result<()> {
    w.write_event(Event::Start(BytesStart::new(name)))
}

fn close(w: &mut Xml, name: &str) -> std::io::Result<()> {
    w.write_event(Event::End(BytesEnd::new(name)))
}

fn leaf(w: &mut Xml, name: &str, text: &str) -> std::io::Result<()> {
    w.create_element(name)
        .write_text_content(BytesText::new(text))?;
    Ok(())
}

fn leaf_date(w: &mut Xml, name: &str, d: NaiveDate) -> std::io::Result<()> {
    leaf(w, name, &date_string(d))
}

fn tf(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

impl CinXmlLa {
    /// Creates the LA's files in `dir` and writes each header.
    pub fn create(dir: &Path, la_code: &str, win: &Window) -> Result<CinXmlLa> {
        let mut files = Vec::new();
        for (end_year, start, reference) in win.census_years()? {
            let path = dir.join(format!("cin_{la_code}_{end_year}.xml"));
            let file =
                File::create(&path).with_context(|| format!("creating {}", path.display()))?;
            let mut w = Writer::new_with_indent(BufWriter::with_capacity(1 << 17, file), b' ', 2);
            let header = (|| -> std::io::Result<()> {
                open(&mut w, "Message")?;
                open(&mut w, "Header")?;
                open(&mut w, "CollectionDetails")?;
                leaf(&mut w, "Collection", "CIN")?;
                leaf(&mut w, "Year", &end_year.to_string())?;
                leaf_date(&mut w, "ReferenceDate", reference)?;
                close(&mut w, "CollectionDetails")?;
                open(&mut w, "Source")?;
                leaf(&mut w, "SourceLevel", "L")?;
                leaf(&mut w, "LEA", la_code)?;
                leaf(&mut w, "SoftwareCode", "safeguard synth (synthetic data)")?;
                leaf(&mut w, "Release", env!("CARGO_PKG_VERSION"))?;
                leaf(&mut w, "SerialNo", "001")?;
                leaf(
                    &mut w,
                    "DateTime",
                    &format!("{}T17:00:00", date_string(reference)),
                )?;
                close(&mut w, "Source")?;
                close(&mut w, "Header")?;
                open(&mut w, "Children")
            })();
            header.with_context(|| format!("writing {}", path.display()))?;
            files.push(YearFile {
                end_year,
                start,
                reference,
                path,
                writer: w,
                children: 0,
            });
        }
        Ok(CinXmlLa { files })
    }

    /// Writes `child` (its LA `la` part) to every census year in which it has an open episode.
    pub fn write_child(&mut self, child: &Child, la: u16, clock: Clock) -> Result<()> {
        for f in &mut self.files {
            let episodes: Vec<Episode> = child
                .episodes
                .iter()
                .filter(|e| {
                    e.la == la
                        && e.received_date().is_some_and(|d| d <= f.reference)
                        && e.closure.is_none_or(|(c, _)| c >= f.start)
                })
                .map(|e| {
                    let mut e = e.clone();
                    e.cut(f.reference, None);
                    e
                })
                .collect();
            if episodes.is_empty() {
                continue;
            }
            write_child_element(
                &mut f.writer,
                child,
                &episodes,
                f.end_year,
                f.reference,
                clock,
            )
            .with_context(|| format!("writing {}", f.path.display()))?;
            f.children += 1;
        }
        Ok(())
    }

    /// Closes every file; returns (path, children written) for each.
    pub fn finish(self) -> Result<Vec<(PathBuf, u64)>> {
        let mut out = Vec::new();
        for f in self.files {
            let YearFile {
                path,
                mut writer,
                children,
                ..
            } = f;
            let done = (|| -> std::io::Result<()> {
                close(&mut writer, "Children")?;
                close(&mut writer, "Message")?;
                writer.get_mut().write_all(b"\n")?;
                writer.get_mut().flush()
            })();
            done.with_context(|| format!("writing {}", path.display()))?;
            out.push((path, children));
        }
        Ok(out)
    }
}

fn write_child_element(
    w: &mut Xml,
    child: &Child,
    episodes: &[Episode],
    end_year: i32,
    reference: NaiveDate,
    clock: Clock,
) -> Result<()> {
    let unborn = child.birth > reference;
    let birth_month = child.birth.with_day(1).unwrap_or(child.birth);
    open(w, "Child")?;
    open(w, "ChildIdentifiers")?;
    leaf(w, "LAchildID", &child.id)?;
    if unborn {
        leaf_date(w, "ExpectedPersonBirthDate", birth_month)?;
    } else {
        leaf_date(w, "PersonBirthDate", birth_month)?;
    }
    let sex = if unborn { "U" } else { child.sex };
    if end_year >= 2025 {
        leaf(w, "Sex", sex)?;
    } else {
        let gender = match sex {
            "M" => "1",
            "F" => "2",
            _ => "0",
        };
        leaf(w, "GenderCurrent", gender)?;
    }
    if let Some(d) = child.death.filter(|d| *d <= reference) {
        leaf_date(w, "PersonDeathDate", d)?;
    }
    close(w, "ChildIdentifiers")?;
    open(w, "ChildCharacteristics")?;
    leaf(w, "Ethnicity", child.ethnicity)?;
    open(w, "Disabilities")?;
    if child.disabilities.is_empty() {
        leaf(w, "Disability", "NONE")?;
    }
    for d in &child.disabilities {
        leaf(w, "Disability", d)?;
    }
    close(w, "Disabilities")?;
    close(w, "ChildCharacteristics")?;
    for ep in episodes {
        write_episode(w, ep, end_year, clock)?;
    }
    close(w, "Child")?;
    Ok(())
}

fn write_episode(w: &mut Xml, ep: &Episode, end_year: i32, clock: Clock) -> Result<()> {
    open(w, "CINdetails")?;
    if let Some(d) = ep.received_date() {
        leaf_date(w, "CINreferralDate", d)?;
    }
    leaf(w, "ReferralSource", ep.source)?;
    leaf(w, "PrimaryNeedCode", ep.need)?;
    if let Some((d, reason)) = ep.closure {
        leaf_date(w, "CINclosureDate", d)?;
        leaf(w, "ReasonForClosure", reason)?;
    }
    if let Some(d) = ep.s47s.iter().find(|s| s.transfer_in).and_then(|s| s.icpc) {
        leaf_date(w, "DateOfInitialCPC", d)?;
    }
    for a in &ep.assessments {
        open(w, "Assessments")?;
        leaf_date(w, "AssessmentActualStartDate", a.start)?;
        if let Some(d) = a.authorised {
            leaf_date(w, "AssessmentAuthorisationDate", d)?;
            if !a.factors.is_empty() {
                open(w, "FactorsIdentifiedAtAssessment")?;
                for f in &a.factors {
                    leaf(w, "AssessmentFactors", f)?;
                }
                close(w, "FactorsIdentifiedAtAssessment")?;
            }
        }
        close(w, "Assessments")?;
    }
    for s in ep.s47s.iter().filter(|s| !s.transfer_in) {
        open(w, "Section47")?;
        leaf_date(w, "S47ActualStartDate", s.start)?;
        leaf_date(w, "InitialCPCtarget", clock.add_wd(s.start, 15)?)?;
        if let Some(d) = s.icpc {
            leaf_date(w, "DateOfInitialCPC", d)?;
        }
        leaf(w, "ICPCnotRequired", tf(s.not_required_on.is_some()))?;
        close(w, "Section47")?;
    }
    leaf(w, "ReferralNFA", tf(ep.nfa == Some(true)))?;
    for p in &ep.plans {
        open(w, "ChildProtectionPlans")?;
        leaf_date(w, "CPPstartDate", p.start)?;
        if let Some((d, _)) = p.end {
            leaf_date(w, "CPPendDate", d)?;
        }
        leaf(w, "InitialCategoryOfAbuse", p.initial_category)?;
        leaf(w, "LatestCategoryOfAbuse", p.latest_category)?;
        leaf(w, "NumberOfPreviousCPP", &p.previous_plans.to_string())?;
        if !p.reviews.is_empty() {
            open(w, "Reviews")?;
            for r in &p.reviews {
                leaf_date(w, "CPPreviewDate", *r)?;
            }
            close(w, "Reviews")?;
        }
        close(w, "ChildProtectionPlans")?;
    }
    // Module 5 from the 2026-27 census (file year 2027): pre-proceedings and FGDM.
    if end_year >= 2027 {
        for p in &ep.pre_proceedings {
            write_pre_proceedings(w, p)?;
        }
    }
    close(w, "CINdetails")?;
    Ok(())
}

/// A `PreProceedingsandFGDM` block (yes/no items as `1`/`0`, as the DfE validator's sample).
fn write_pre_proceedings(w: &mut Xml, p: &PreProceedings) -> Result<()> {
    let bit = |b: bool| if b { "1" } else { "0" };
    open(w, "PreProceedingsandFGDM")?;
    leaf_date(w, "PPStartDate", p.start)?;
    if let Some(d) = p.letter {
        leaf_date(w, "LBPSentDate", d)?;
    }
    if let Some(b) = p.fgdm_offered {
        leaf(w, "FGDMMeetingOffer", bit(b))?;
    }
    if let Some(b) = p.fgdm_facilitated() {
        leaf(w, "FGDMMeetingFac", bit(b))?;
    }
    if let Some(d) = p.initial_meeting {
        leaf_date(w, "InitialPPMeetingDate", d)?;
    }
    if let Some(n) = p.review_count() {
        leaf(w, "ReviewMeetingsCount", &n.to_string())?;
    }
    if let Some((d, outcome)) = p.decision {
        leaf_date(w, "StepDecisionDate", d)?;
        if let Some(o) = outcome {
            leaf(w, "PPOutcome", o)?;
        }
    }
    if let Some(d) = p.court_application {
        leaf_date(w, "CourtAppDate", d)?;
    }
    if let Some(d) = p.care_proceedings_letter {
        leaf_date(w, "LetterInitCPDate", d)?;
    }
    close(w, "PreProceedingsandFGDM")?;
    Ok(())
}
