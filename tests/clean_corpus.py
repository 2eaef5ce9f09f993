"""Clean testimony-like text in English and Arabic, written for measuring false positives: it names
none of the approved names of tests/gate/test_name_variants.py. Sentences are recombined with a fixed seed
into a corpus of the size asked for, so that a rate per 10,000 words can be measured."""

from __future__ import annotations

import random

EN = """
We left the house before dawn because the shelling had moved closer to our street.
My mother packed bread, olives and a blanket, and said we would be back within a week.
The road to the north was blocked by a checkpoint, so the driver took the valley road instead.
Nobody spoke in the car; the children slept against the windows.
At the school they gave us a classroom with twelve other families and one heater.
I taught the younger children to read using old newspapers and the backs of receipts.
There was no electricity for days, and water came twice a week in a tanker.
Sometimes the soldiers asked for our papers, sometimes they only looked at us and waved.
My father said the most important thing was to keep the family together.
When the rain came the roof leaked, and we moved the mattresses to the corridor.
In the market the prices doubled every month, and sugar disappeared first.
The doctor at the field clinic worked through the night without a break.
We heard about the siege from a cousin who had a satellite phone.
People traded cigarettes for medicine and flour for batteries.
I remember the smell of diesel and the sound of generators in every alley.
The bakery opened at five in the morning and the queue reached the corner.
After the bridge was destroyed, we crossed the river on a small boat.
The camp was crowded, but the volunteers were kind and patient.
We registered our names at a desk under a white tent and waited for hours.
The winter was hard; the children wore two coats and slept in their shoes.
Later I found work in a workshop that repaired phones and radios.
My brother wanted to study engineering, but the university had closed.
We kept the keys of the old house in a tin box with the photographs.
When the bus finally arrived, the driver asked everyone to stay calm.
A teacher from the next village organised lessons in a garage.
The mosque and the church both handed out blankets during the storm.
I was arrested at a checkpoint and held in a basement for three weeks.
They asked me the same questions again and again, always at night.
When I was released I could not walk properly for a month.
My wife sold her gold to pay the smuggler who took us across the border.
The journey took nine days, mostly on foot through the hills.
We slept in olive groves and drank from irrigation channels.
At the border the guards took our phones and returned them the next morning.
In the city we rented one room above a carpentry shop.
My daughter learned the new language faster than any of us.
The neighbours brought soup when they heard that we had arrived.
Every evening we called relatives to hear who was still safe.
Some of the letters we wrote were never answered.
I still dream about the courtyard and the lemon tree my grandfather planted.
The archive asked me to speak slowly so that the recording would be clear.
It was difficult to talk about the prison, but I wanted it to be remembered.
We wrote down the dates on the wall of the room with a piece of charcoal.
The lawyer told us to keep every document, even the ones that seemed useless.
A journalist visited the camp and took pictures of the tents in the snow.
Our savings lasted four months, then we borrowed from friends.
The harvest that year was good, but nobody was left to pick the fruit.
The hospital moved its patients to the basement when the planes came.
We listened to the radio under a blanket so the light would not show.
My grandmother refused to leave and stayed with her chickens.
The phone network failed for a week and rumours spread quickly.
I carried my younger sister on my back for the last part of the journey.
When we reached the coast the sea was rough and the boat was too small.
A fisherman lent us dry clothes and made tea on a gas stove.
The officer at the registration office was tired but polite.
We were given a number and told to return after the holiday.
Years later, I still keep that number written on a card in my wallet.
The children drew pictures of houses with gardens and smoke from the chimneys.
My uncle repaired bicycles and charged almost nothing for it.
Before the war the street was full of shops and the cafe stayed open late.
Now I want my grandchildren to know what happened and why we left.
"""

AR = """
خرجنا من البيت قبل الفجر لأن القصف اقترب من شارعنا.
جهزت أمي الخبز والزيتون وبطانية، وقالت إننا سنعود خلال أسبوع.
كان الطريق إلى الشمال مقطوعاً بحاجز، فأخذ السائق طريق الوادي.
لم يتكلم أحد في السيارة، ونام الأطفال على النوافذ.
في المدرسة أعطونا صفاً مع اثنتي عشرة عائلة ومدفأة واحدة.
علمت الأطفال الصغار القراءة من الجرائد القديمة وظهور الفواتير.
انقطعت الكهرباء أياماً، وكان الماء يأتي مرتين في الأسبوع بصهريج.
أحياناً كان العساكر يطلبون الأوراق، وأحياناً ينظرون إلينا فقط ويشيرون بأيديهم.
قال أبي إن أهم شيء أن تبقى العائلة مع بعضها.
عندما جاء المطر صار السقف يدلف، فنقلنا الفرشات إلى الممر.
في السوق تضاعفت الأسعار كل شهر، واختفى السكر أولاً.
اشتغل الطبيب في المستوصف الميداني طوال الليل دون استراحة.
سمعنا عن الحصار من قريب عنده هاتف فضائي.
كان الناس يبادلون الدخان بالدواء والطحين بالبطاريات.
أتذكر رائحة المازوت وصوت المولدات في كل زاروب.
كان الفرن يفتح الساعة الخامسة صباحاً والدور يصل إلى الزاوية.
بعد أن تهدم الجسر عبرنا النهر بقارب صغير.
كان المخيم مزدحماً لكن المتطوعين كانوا لطفاء وصبورين.
سجلنا أسماءنا على طاولة تحت خيمة بيضاء وانتظرنا ساعات.
كان الشتاء قاسياً، لبس الأولاد معطفين وناموا بأحذيتهم.
بعدها وجدت عملاً في ورشة تصلح الهواتف والراديوهات.
كان أخي يريد أن يدرس الهندسة لكن الجامعة أغلقت.
احتفظنا بمفاتيح البيت القديم في علبة معدنية مع الصور.
عندما وصل الباص أخيراً طلب السائق من الجميع أن يهدؤوا.
نظمت معلمة من القرية المجاورة دروساً في كراج.
وزع الجامع والكنيسة البطانيات خلال العاصفة.
اعتقلوني على حاجز وبقيت في قبو ثلاثة أسابيع.
كانوا يسألونني الأسئلة نفسها مرة بعد مرة، دائماً في الليل.
عندما أطلقوا سراحي لم أستطع المشي جيداً مدة شهر.
باعت زوجتي ذهبها لندفع للمهرب الذي أخذنا عبر الحدود.
استغرقت الرحلة تسعة أيام، معظمها مشياً بين التلال.
نمنا في بساتين الزيتون وشربنا من قنوات الري.
على الحدود أخذ الحرس هواتفنا وأعادوها في الصباح التالي.
في المدينة استأجرنا غرفة واحدة فوق منجرة.
تعلمت ابنتي اللغة الجديدة أسرع منا جميعاً.
أحضر الجيران الشوربة عندما سمعوا أننا وصلنا.
كل مساء كنا نتصل بالأقارب لنعرف من ما زال بخير.
بعض الرسائل التي كتبناها لم يأت عليها رد.
ما زلت أحلم بأرض الدار وشجرة الليمون التي زرعها جدي.
طلب منا الأرشيف أن نتكلم ببطء حتى يكون التسجيل واضحاً.
كان صعباً أن أتحدث عن السجن، لكني أردت أن يبقى في الذاكرة.
كتبنا التواريخ على حائط الغرفة بقطعة فحم.
قال لنا المحامي أن نحتفظ بكل ورقة حتى التي تبدو بلا فائدة.
زار صحفي المخيم وصور الخيام تحت الثلج.
كفتنا مدخراتنا أربعة أشهر ثم استدنا من الأصدقاء.
كان الموسم جيداً تلك السنة لكن لم يبق أحد ليقطف الثمر.
نقل المشفى مرضاه إلى القبو عندما جاءت الطائرات.
كنا نسمع الراديو تحت بطانية حتى لا يظهر الضوء.
رفضت جدتي أن تترك البيت وبقيت مع دجاجاتها.
تعطلت شبكة الهاتف أسبوعاً وانتشرت الإشاعات بسرعة.
حملت أختي الصغيرة على ظهري في آخر جزء من الطريق.
عندما وصلنا إلى الساحل كان البحر هائجاً والقارب صغيراً جداً.
أعارنا صياد ثياباً جافة وعمل شاياً على غاز صغير.
كان الموظف في مكتب التسجيل متعباً لكنه مؤدب.
أعطونا رقماً وقالوا ارجعوا بعد العيد.
بعد سنوات ما زلت أحتفظ بذلك الرقم مكتوباً على بطاقة في محفظتي.
رسم الأطفال بيوتاً فيها حدائق ودخان يطلع من المداخن.
كان عمي يصلح الدراجات ويأخذ أجراً قليلاً جداً.
قبل الحرب كان الشارع مليئاً بالمحلات والمقهى يسهر حتى الليل.
أريد أن يعرف أحفادي ماذا حدث ولماذا تركنا بلدنا.
والله كانت أيام صعبة، بس الحمد لله طلعنا سالمين.
يعني شو بدي قلك، كل يوم كان في شي جديد.
كنا نقعد عالدرج ونحكي لحتى يطلع الضو.
"""


def sentences(language: str) -> list[str]:
    source = EN if language == "en" else AR
    return [line.strip() for line in source.strip().splitlines() if line.strip()]


def corpus(words: int, seed: int = 11) -> list[str]:
    """Segments of one to three sentences, both languages, until `words` words are written."""
    rng = random.Random(seed)
    pool = {"en": sentences("en"), "ar": sentences("ar")}
    out: list[str] = []
    count = 0
    while count < words:
        language = rng.choice(("en", "ar"))
        segment = " ".join(rng.choice(pool[language]) for _ in range(rng.randint(1, 3)))
        out.append(segment)
        count += len(segment.split())
    return out
