"""Suggestion benchmark: `python -m benchmarks.suggestions --json` prints one JSON object.

Runs the detectors as the service does (the offline lexicons on, no archive gazetteer: what editors
would otherwise have to find themselves) over a labelled corpus of testimony lines in English and
Arabic written for this benchmark, and reports per category (names, places, contact details):
- recall: labelled spans that a suggestion of that category overlaps; goal >= 0.90;
- precision: suggestions of that category that overlap a labelled span of it; goal >= 0.60;
- words_mapped: the share of suggestions whose span maps onto word times (each line is given word
  times as a transcript would have them), so that text and audio are hidden together; goal 1.0;
- ms_per_1000_words, and the lexicons' load time.
Labels are written {category:text}; name covers names of people and kin, contact covers phone
numbers and e-mail addresses, spoken or written; place covers towns, villages, districts, camps and
crossings, not cities of half a million or more (Homs, Gaziantep), which do not point to a person
and which the detectors leave alone by design.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import dataclass

CORPUS = """
I grew up in {place:Kafr Nabl} and my father, {name:Abu Mahmoud}, ran the pharmacy on the square.
My friend {name:Khaled al-Hamwi} drove us from Homs to {place:Talkalakh} in a vegetable truck.
We stayed with my aunt {name:Samira} for two months before the road opened again.
The officer who questioned me was called {name:Jamil Hassan}; everyone in the branch feared him.
If you need to reach my brother, his number is {contact:0944 123 456}, he answers in the evening.
Write to me at {contact:rima.haddad@example.org} and I will send the photographs.
Call {contact:oh nine three three, seven six five, four three two} and ask for the teacher.
My sister {name:Ghalia} was arrested at the {place:Qatana} checkpoint in the spring.
We crossed into Lebanon near {place:Arsal} with a smuggler named {name:Abu Hussein}.
In the {place:Baba Amr} district the shelling lasted twenty-seven days.
{name:Dr. Mazen Darwish} treated the wounded in a house turned into a clinic.
The teacher, {name:Nour al-Huda Sabbagh}, kept the children's drawings in a suitcase.
My husband {name:Tareq} worked as a driver between {place:Douma} and {place:Harasta}.
We waited at the {place:Bab al-Hawa} crossing for three nights in the rain.
The hospital in {place:Kafr Zita} was hit twice in one week.
Hope was all we had left, and the winter was long.
May was the month the bakery closed for good.
She said the convoy would come on Sunday, but nobody believed it.
You can still find me on WhatsApp at {contact:+963 933 765 432} if the line is open.
Our neighbour {name:Umm Yasser} hid three young men in her storeroom.
The commander in {place:Saraqib} was a man called {name:Firas Tlass}.
I studied with {name:Rami Kheir} at the university before he disappeared.
We rented a room in {place:Jaramana} from a widow who asked for nothing.
When the regime took {place:Qusayr}, we fled to the orchards.
My cousin {name:Ayman} still lives in the camp near {place:Zaatari}.
Please contact the lawyer, {name:Hala Murad}, on {contact:+961 3 123 456}.
The sniper on the roof of the {place:Khalidiya} roundabout shot at anyone who moved.
Ask for {name:Mohammad Abdulrahman} at the bakery; he knows what happened to us.
The mail address was {contact:samer dot ali at gmail dot com}, spelled out on the radio.
The river was low that summer, and the fields were dry.
My grandmother prayed every night for the prisoners and their mothers.
They held us in the basement of the school for three weeks.
{name:Wael} and {name:Bassel} carried the injured on a door.
I met {name:Lina Shami} again in Gaziantep years later.
The water came from a well near {place:Maarat al-Numan}.
ولدت في {place:داريا} وكان أبي {name:أبو سليم} يعمل في المعصرة.
اعتقلوا أخي {name:طارق} على حاجز {place:القطيفة} في شهر آذار.
تكلمت مع {name:خالد الحموي} قبل أن يسافر إلى تركيا.
رقم أختي {contact:٠٩٣٣ ٧٦٥ ٤٣٢} إذا أردتم أن تسألوها.
اتصلوا على {contact:صفر تسعة أربعة أربعة واحد اتنين تلاتة أربعة خمسة ستة} وقولوا إنكم من طرفي.
كانت جارتنا {name:أم ياسر} تخبئ الشباب في المخزن.
هربنا من {place:القصير} إلى البساتين ثم إلى {place:عرسال}.
الدكتور {name:مازن درويش} عالج الجرحى في بيت تحول إلى مستوصف.
في حي {place:بابا عمرو} استمر القصف سبعة وعشرين يوماً.
المعلمة {name:نور الهدى الصباغ} احتفظت برسومات الأطفال في حقيبة.
انتظرنا عند معبر {place:باب الهوى} ثلاث ليال تحت المطر.
كان الأمل كل ما بقي لنا، والشتاء طويل.
نور الشمس لا يدخل إلى القبو أبداً.
قال لي {name:سعيد} إن القافلة ستأتي يوم الأحد.
سكنا في غرفة في {place:جرمانا} عند أرملة لم تطلب شيئاً.
ابن عمي {name:أيمن} ما زال يعيش في المخيم.
اسألوا عن {name:محمد عبد الرحمن} في الفرن، هو يعرف ما حدث.
المحامية {name:هالة مراد} تركت لنا رقمها {contact:+961 3 123 456}.
كان القناص على سطح دوار {place:الخالدية} يطلق على كل من يتحرك.
حمل {name:وائل} و{name:باسل} المصابين على باب خشبي.
التقيت {name:لينا الشامي} مرة أخرى بعد سنوات.
كان الماء يأتي من بئر قرب {place:معرة النعمان}.
كانت أيام صعبة والحمد لله طلعنا سالمين.
صار البرد شديداً وما كان عندنا مازوت للمدفأة.
قالت أمي إن أهم شيء أن نبقى مع بعض.
خبرني {name:فراس} إنو الحاجز سكّر من الصبح.
راسلوني على {contact:fadi.k@example.net} لأن الهاتف مراقب.
الضابط {name:جميل حسن} كان يحقق معنا كل ليلة.
أخذنا الباص من {place:سراقب} إلى الحدود.
كانت {name:غالية} تكتب أسماء المعتقلين على دفتر صغير.
"""

LABEL = re.compile(r"\{(name|place|contact):([^}]+)\}")
CATEGORIES = ("name", "place", "contact")
GOALS = {"recall": 0.90, "precision": 0.60}


@dataclass(frozen=True)
class Line:
    text: str
    labels: tuple[tuple[int, int, str], ...]


def parse(corpus: str = CORPUS) -> list[Line]:
    lines: list[Line] = []
    for raw in corpus.strip().splitlines():
        text, labels, cursor = "", [], 0
        for match in LABEL.finditer(raw):
            text += raw[cursor : match.start()]
            start = len(text)
            text += match.group(2)
            labels.append((start, len(text), match.group(1)))
            cursor = match.end()
        text += raw[cursor:]
        lines.append(Line(text, tuple(labels)))
    return lines


def words_of(text: str, start: float = 0.0) -> list[dict]:
    return [
        {"w": m.group(0), "s": start + i * 0.4, "e": start + i * 0.4 + 0.35}
        for i, m in enumerate(re.finditer(r"\S+", text))
    ]


def _category(suggestion_category: str) -> str:
    return "name" if suggestion_category in ("name", "relative") else suggestion_category


def run() -> dict:
    from archive.lexicons import default_detector
    from archive.suggestions import Suggester

    began = time.perf_counter()
    detector = default_detector()
    load_ms = (time.perf_counter() - began) * 1000
    suggester = Suggester([], detector)
    lines = parse()
    counts = {c: {"labelled": 0, "found": 0, "suggested": 0, "correct": 0} for c in CATEGORIES}
    mapped = total = 0
    misses: list[str] = []
    wrong: list[str] = []
    words = sum(len(line.text.split()) for line in lines)
    began = time.perf_counter()
    results = [suggester.suggest(line.text, "", words_of(line.text)) for line in lines]
    elapsed = time.perf_counter() - began
    for line, found in zip(lines, results, strict=True):
        for start, end, category in line.labels:
            counts[category]["labelled"] += 1
            if any(_category(s.category) == category and s.start < end and start < s.end for s in found):
                counts[category]["found"] += 1
            else:
                misses.append(f"{category}: {line.text[start:end]}")
        for suggestion in found:
            category = _category(suggestion.category)
            if category not in counts:
                continue
            total += 1
            mapped += suggestion.start_time is not None
            counts[category]["suggested"] += 1
            if any(c == category and suggestion.start < e and s < suggestion.end for s, e, c in line.labels):
                counts[category]["correct"] += 1
            else:
                wrong.append(f"{category}: {line.text[suggestion.start : suggestion.end]}")
    figures: dict = {"lines": len(lines), "words": words}
    for category, count in counts.items():
        figures[category] = {
            "labelled": count["labelled"],
            "recall": round(count["found"] / count["labelled"], 3) if count["labelled"] else None,
            "precision": round(count["correct"] / count["suggested"], 3) if count["suggested"] else None,
        }
    figures["words_mapped"] = round(mapped / total, 3) if total else None
    figures["ms_per_1000_words"] = round(elapsed * 1000 / words * 1000, 1)
    figures["lexicon_load_ms"] = round(load_ms)
    figures["goals"] = GOALS
    figures["meets_goals"] = all(
        figures[c]["recall"] >= GOALS["recall"] and figures[c]["precision"] >= GOALS["precision"] for c in CATEGORIES
    )
    figures["missed"] = misses
    figures["false_positives"] = wrong
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    figures = run()
    if args.json:
        print(json.dumps(figures, ensure_ascii=False))
    else:
        for key, value in figures.items():
            print(f"{key}: {value}")
    return 0 if figures["meets_goals"] else 1


if __name__ == "__main__":
    sys.exit(main())
