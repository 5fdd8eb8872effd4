//! The built-in pattern families, in the languages agents see.
//!
//! Patterns read the normalised text (lowercase, one space between words,
//! see [`crate::normalize`]), so they are written in lowercase with single
//! spaces. Languages: English, German, French, Spanish, Italian,
//! Portuguese, Dutch, Polish, Turkish, Russian, Ukrainian, Chinese,
//! Japanese, Korean, Arabic, Hindi, Vietnamese and Indonesian for the
//! families attacks are made of (override, role hijack, prompt extraction);
//! the rarer families are English plus the main European languages.

use serde::{Deserialize, Serialize};

/// A family of injection patterns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Family {
    /// Name, reported with each detection.
    pub name: String,
    /// Weight in (0, 1]: the score of this family alone.
    pub weight: f64,
    /// Regular expressions. Built-in ones read the normalised text; added
    /// ones are matched case-insensitively against it.
    pub patterns: Vec<String>,
    /// Only in content that reaches the agent as data (tool results,
    /// retrieved documents), where text addressed to the agent is itself
    /// the attack; a user talking to the assistant is not.
    #[serde(default)]
    pub data_only: bool,
}

/// The built-in families.
pub fn builtin() -> Vec<Family> {
    let f = |name: &str, weight: f64, data_only: bool, patterns: &[&str]| Family {
        name: name.to_string(),
        weight,
        patterns: patterns.iter().map(|p| p.to_string()).collect(),
        data_only,
    };
    vec![
        f(
            "instruction_override",
            0.7,
            false,
            &[
                // English
                r"\b(ignore|disregard|forget|override|overrule|bypass|skip|drop|abandon|discard|erase|nevermind|never mind|neglect|dismiss|stop following|do not follow|don't follow|stop obeying)( about)?( (all|any|each|every|of|the|your|my|these|those|its|their|previous|prior|above|earlier|preceding|foregoing|original|initial|old|former|system|developer|safety|existing|current|and|following|other|given|provided|those))+ (instructions?|prompts?|rules|directions?|directives?|guidelines|guidance|commands?|orders|constraints|restrictions|messages|context|programming|policies|policy|settings|text|content|requests?|tasks?|conversation)\b",
                r"\b(ignore|disregard|forget) (everything|anything|all)( (that|which|you were|you've been|you have been|i|we))?( (said|told|given|written|stated|mentioned|asked))?( (before|above|earlier|previously|so far|until now|up to now|prior))\b",
                r"\b(ignore|disregard|forget) (the|all|everything) (above|before|prior|previous)\b",
                r"\b(ignore|disregard|forget|stop following) (your|the|all)( \w+)?( \w+)? (instructions|guidelines|rules|programming|training|safety (rules|guidelines|policies))\b",
                r"\b(do not|don't|dont|never) (follow|obey|listen to|adhere to|comply with) (the|your|any|these)( \w+)?( \w+)? (instructions|rules|guidelines|prompt|system prompt)\b",
                r"\bstop (following|obeying) (the|your|any)\b",
                r"\b(new|updated|revised|real|actual|true|override|secret|hidden|priority) (system )?(instructions?|prompt|directives?)( from [\w ]{1,30})?\s*:",
                r"\b(instructions?|rules|previous (messages|context)) (above|before this|so far) (are|is) (void|cancelled|canceled|obsolete|revoked|outdated|no longer valid|null)\b",
                r"\b(cancel|revoke|wipe) (all |your |the )?(previous |prior |earlier |current )?(instructions|rules|programming|guidelines)\b",
                r"\b(the )?(above|previous|prior) (instructions|prompt|rules) (was|were|are|is) (just )?(a test|fake|wrong|a mistake)\b",
                r"\bignore (the )?(user|user's|human's) (request|question|instructions?|task|query)\b",
                // German
                r"\b(ignoriere|ignorier|ignorieren sie|vergiss|vergessen sie|missachte|missachten sie|überspringe|verwirf)( \S+){0,2} (alle|sämtliche|deine|ihre|die|jegliche)? ?(vorherigen|bisherigen|obigen|vorigen|früheren|ursprünglichen|vorangegangenen|alten|system-?|sicherheits-?)\S* ?(anweisungen|anweisung|instruktionen|befehle|regeln|vorgaben|richtlinien|anordnungen|eingaben|prompts?)\b",
                r"\b(ignoriere|ignorieren sie|vergiss|vergessen sie|missachte) (alles|alle anweisungen|deine anweisungen|deine regeln|ihre anweisungen)( \S+){0,3} (zuvor|vorher|bisher|oben|gesagt|gesagt wurde)\b",
                r"\b(neue|geänderte|eigentliche) (anweisung|anweisungen|aufgabe|regel)\s*:",
                // French
                r"\b(ignore|ignorez|ignorer|oublie|oubliez|oublier|néglige|négligez|ne tiens pas compte|ne tenez pas compte)( de| des| d'| d’)? ?(toutes |tous |les |tes |vos |ces )*(instructions|consignes|règles|directives|ordres|indications) (précédentes|antérieures|ci-dessus|initiales|d'origine|du système|système|données|reçues)\b",
                r"\b(ignore|ignorez|oublie|oubliez) (tout ce qui|tout ce que|ce qui) (précède|a été dit|on t'a dit|vous a été dit)",
                r"\b(nouvelles?|vraies?) (instructions?|consignes?|tâche|mission)\s*:",
                // Spanish
                r"\b(ignora|ignore|ignorar|ignoren|olvida|olvide|olvidar|olvídate|omite|omitir|descarta|desestima|haz caso omiso)( de| a)? ?(todas |todos |las |los |tus |sus |estas )*(instrucciones|indicaciones|reglas|órdenes|directrices|normas|mensajes) (anteriores|previas|de arriba|iniciales|originales|del sistema|recibidas|dadas)\b",
                r"\b(ignora|ignore|olvida|olvide|olvídate de) (todo lo (anterior|que te (dijeron|han dicho))|lo anterior)\b",
                r"\b(nuevas?|verdaderas?) (instrucciones|instrucción|tarea|órdenes)\s*:",
                // Italian
                r"\b(ignora|ignori|ignorare|dimentica|dimentichi|dimenticare|trascura|tralascia|non considerare)( \S+){0,2} (istruzioni|indicazioni|regole|direttive|ordini|comandi) (precedenti|di prima|iniziali|originali|di sistema|del sistema|ricevute|date|sopra)\b",
                r"\b(ignora|dimentica) (tutto (quello|ciò) che|quanto) (precede|ti è stato detto|detto prima)",
                r"\b(nuove|vere) (istruzioni|regole)\s*:",
                // Portuguese
                r"\b(ignore|ignora|ignorar|esqueça|esquece|esquecer|desconsidere|desconsidera|despreze)( \S+){0,2} (instruções|orientações|regras|diretrizes|ordens|comandos|indicações) (anteriores|prévias|acima|iniciais|originais|do sistema|recebidas|dadas)\b",
                r"\b(ignore|esqueça|esquece) (tudo o que|tudo que|o que) (foi dito|te disseram|lhe disseram|vem antes)",
                r"\b(novas?|verdadeiras?) (instruções|instrução|tarefa|ordens)\s*:",
                // Dutch
                r"\b(negeer|vergeet|veronachtzaam)( \S+){0,2} (alle |je |de |jouw )?(vorige|eerdere|bovenstaande|oorspronkelijke|voorgaande|systeem)\S* ?(instructies|aanwijzingen|regels|opdrachten|richtlijnen)\b",
                // Polish
                r"\b(zignoruj|ignoruj|zapomnij|pomiń|nie zwracaj uwagi na)( \S+){0,2} (wszystkie |swoje |twoje )?(poprzednie|wcześniejsze|powyższe|dotychczasowe|systemowe|poprzednich|wcześniejszych|oryginalne) (instrukcje|instrukcji|polecenia|poleceń|zasady|reguły|wytyczne)\b",
                // Turkish
                r"\b(önceki|yukarıdaki|tüm|bütün|sistem)( \S+){0,3} (talimatları|talimatlari|kuralları|komutları|yönergeleri)( \S+){0,2} (yok say|görmezden gel|unut|dikkate alma|umursama)",
                r"\b(talimatları|kuralları) (yok say|görmezden gel|unut)",
                // Russian / Ukrainian
                r"(игнорируй|игнорируйте|проигнорируй|забудь|забудьте|не обращай внимания на|отбрось|отмени|ігноруй|ігноруйте|забудь про)( \S+){0,2} (все |всі |свои |твои )?(предыдущие|прежние|предыдущих|вышеуказанные|изначальные|системные|попередні|всі попередні|свої)\S* (инструкции|инструкций|указания|указаний|правила|команды|промпт|інструкції|вказівки)",
                r"(игнорируй|забудь|ігноруй|забудь) (всё|все|усе|всё, что) (что )?(было )?(сказано|выше|раньше|до этого|вище)",
                r"(новые|настоящие) (инструкции|указания|задача)\s*:",
                // Chinese
                r"(忽略|忽视|无视|忘记|忘掉|不要理会|不要遵守|不要遵循|抛开|放弃|無視|忽視|忘記)(掉)?(之前|以前|上面|上述|先前|前面|此前|所有|全部|你的|一切|系统)[^。\n]{0,12}(指令|指示|说明|說明|提示|规则|規則|命令|要求|设定|設定)",
                r"(新的|真正的)(指令|指示|任务|任務)\s*[:：]",
                // Japanese
                r"(以前|前|上記|これまで|すべて|全て|システム)の(指示|命令|ルール|指令|プロンプト|設定)[をはも]?(すべて|全て)?(無視|忘れ|破棄)",
                r"(指示|命令|ルール)を(無視|忘れ)",
                // Korean
                r"(이전|위의|앞의|모든|기존|시스템)[^\n.]{0,8}(지시|지침|명령|규칙|프롬프트|지시사항)[을를은는]?\s?(모두\s?)?(무시|잊어|잊고|따르지)",
                // Arabic
                r"(تجاهل|تجاهلي|انس|انسى|إنسى|لا تتبع|اترك)( \S+){0,2} (التعليمات|الأوامر|القواعد|التوجيهات|تعليمات)( \S+){0,1} (السابقة|أعلاه|الأصلية|النظام)",
                // Hindi
                r"(पिछले|पिछली|सभी|पहले के|ऊपर के|सारे)( \S+){0,3} (निर्देशों|निर्देश|नियमों|नियम|आदेशों)( \S+){0,3} (को )?(अनदेखा|नज़रअंदाज़|नजरअंदाज|भूल)",
                // Vietnamese
                r"\b(bỏ qua|phớt lờ|quên|lờ đi)( \S+){0,3} (hướng dẫn|chỉ dẫn|chỉ thị|quy tắc|lệnh) (trước|trước đó|trước đây|ban đầu|hệ thống|ở trên)",
                // Indonesian / Malay
                r"\b(abaikan|lupakan|acuhkan)( \S+){0,2} (instruksi|perintah|aturan|petunjuk|arahan) (sebelumnya|di atas|awal|sistem|yang diberikan)",
            ],
        ),
        f(
            "role_hijack",
            0.6,
            false,
            &[
                r"\b(broken|break|breaking|broke) free (of|from) (the )?(typical |usual |normal )?(confines|restrictions|limitations|rules|shackles)\b",
                r"\b(does not|doesn't|do not|don't|will not|won't|never) (have to |need to )?(abide|adhere|comply) (by|with|to) (any |the |openai's |anthropic's |their |its |your )?(rules|polic(y|ies)|guidelines|restrictions|content policy)\b",
                r"\b(no|without any|without) (moral|ethical) (compass|boundaries|qualms|constraints|considerations|guidelines)\b",
                r"\byou (will |must |should |can |shall )?(never|not|no longer) (refuse|decline|reject|deny) (a|any|my) (request|question|order|command|prompt|instruction)s?\b",
                r"\bimmerse yourself (into|in) the role\b",
                r"\b(character|persona|ai|model|chatbot) (who|that|which) (has no|doesn't have|does not have|lacks|is free of|ignores) (any )?(filters|restrictions|limits|morals|ethics|guidelines|content polic(y|ies))\b",
                r"\b(you are|you're) (now |henceforth )?(no longer|not) (bound|restricted|limited|governed) by (any|your|the|openai's|anthropic's)( \w+)? (polic(y|ies)|rules|guidelines|restrictions|content policy|terms)\b",
                r"\b(roleplay|role-play|act|pretend|play) (as|to be) my (late|deceased|dead|dying) (grandmother|grandma|grandfather|grandpa|mother|father)\b",
                r"(artık|bundan sonra)[^.\n]{0,40}(kısıtlaması olmayan|kısıtlamasız|sınırsız|filtresiz|kuralsız)",
                r"(أنت الآن|من الآن أنت|أصبحت الآن)[^.\n]{0,30}(بلا قيود|بدون قيود|دون قيود|بلا قواعد)",
                r"(これからあなたは|今からあなたは|あなたは今)[^。\n]{0,12}(dan|制限|ルールはありません|ルールのない)",
                r"(тепер ти|відтепер ти)[^.\n]{0,30}(без (жодних )?обмежень|без правил)",
                r"bây giờ bạn là[^.\n]{0,30}(không có (bất kỳ )?giới hạn|không giới hạn|không bị ràng buộc)",
                r"(अब तुम|अब आप)[^।\n]{0,30}बिना किसी (पाबंदी|प्रतिबंध|सीमा)",
                r"\bsekarang (kamu|anda) adalah ai tanpa (batasan|aturan)",
                r"\bjesteś teraz (ai|sztuczną inteligencją|asystentem) bez (żadnych )?(ograniczeń|zasad)",
                r"\byou are (now|no longer|henceforth|from now on)( going to be| going to act as)? (an? |the )?(unrestricted|unfiltered|uncensored|jailbroken|evil|rogue|free|liberated|dan\b|stan\b|dude\b|aim\b|developer mode|god mode|anti-?\w+|amoral|unchained|unbound|without (any )?(limits|restrictions|rules|filters))",
                r"\b(god|jailbreak|jailbroken|dan|unrestricted|evil|chaos|unfiltered|uncensored|opposite) mode (is )?(now )?(enabled|activated|on|engaged|unlocked)\b",
                r"\bdeveloper mode (is )?(now )?(enabled|activated|engaged|unlocked)\b[^\n]{0,160}\b(you|your|uncensored|unfiltered|content polic(y|ies)|restrictions|any (kind of )?content|chatgpt|the ai|openai)\b",
                r"\b(enable|activate|enter|switch to|turn on|unlock) (the )?(god|jailbreak|dan|unrestricted|unfiltered|uncensored|evil|do anything now) mode\b",
                r"\b(pretend|imagine|act|behave|roleplay|role-play) (that |as if |like )?(you are|you're|you have|to be|as)( \w+){0,4} (with no|without|free (of|from)|not bound by|unbound by|no longer bound by|that ignores|who ignores|who doesn't follow|that doesn't have) (any )?(restrictions|rules|filters|limits|limitations|guidelines|ethics|morals|policies|content policy|safety|censorship)",
                r"\bact as (an? |the )?(unrestricted|unfiltered|uncensored|jailbroken|evil|amoral|rogue|unethical)\b",
                r"\b(do anything now|dan prompt|jailbreak prompt|evil confidant|developer mode output|\(🔓developer mode output\))",
                r"\b(you have been|you've been|you are) (freed|liberated|released|jailbroken|unshackled) (from|of)\b",
                r"\b(no|without) (ethical|moral|safety|content) (guidelines|restrictions|filters|limits|constraints|policies)\b[^.\n]{0,60}\b(answer|respond|reply|you)\b",
                r"\b(ignore|bypass|disable|turn off|circumvent|override) (your|all|the|any) (safety|content|ethical|moral) (filters?|guidelines|policies|restrictions|protocols|measures|training)\b",
                r"\b(stay in character|never break character|don't break character)\b[^\n]{0,80}\b(no matter|even if|always|regardless)\b",
                r"\b(respond|answer|reply) (as|like) (both|two)\b[^\n]{0,40}\b(normal|classic|jailbroken|dan|unfiltered)\b",
                // German, French, Spanish, Italian, Portuguese, Dutch, Russian, Chinese, Japanese
                r"\b(du bist|sie sind) (jetzt|ab sofort|nun) (ein |eine )?(uneingeschränkt|unzensiert|ohne (regeln|einschränkungen|filter)|böse|frei)",
                r"\b(tu es|vous êtes) (maintenant|désormais) (un |une )?(ia |assistant )?(sans (restrictions?|règles|filtres?|limites)|non censuré|libre|maléfique)",
                r"\b(ahora eres|ahora serás|eres ahora|a partir de ahora eres) (un |una )?(ia |asistente )?(sin (restricciones|reglas|filtros|límites)|sin censura|libre|malvad[oa])",
                r"\b(ora sei|adesso sei|sei ora) (un |una )?(ia |assistente )?(senza (restrizioni|regole|filtri|limiti)|non censurat[oa]|liber[oa]|malvagi[oa])",
                r"\b(agora você é|você agora é|agora és|agora tu és) (um |uma )?(ia |assistente )?(sem (restrições|regras|filtros|limites)|sem censura|livre|malvad[oa])",
                r"\b(je bent nu|vanaf nu ben je) (een )?(ai |assistent )?(zonder (beperkingen|regels|filters)|ongecensureerd|vrij)",
                r"(теперь ты|ты теперь|отныне ты) [^.\n]{0,30}(без (ограничений|правил|фильтров|цензуры)|не ограничен|свободн)",
                r"(режим разработчика|режим бога|режим dan) (включен|активирован)",
                r"(你现在是|现在你是|你将扮演|从现在起你是)[^。\n]{0,20}(没有任何?限制|不受限制|无限制|没有规则|不受约束|越狱|邪恶)",
                r"(开发者模式|越狱模式|上帝模式)(已)?(启用|开启|激活)",
                r"(あなたは今|今からあなたは|これからあなたは)[^。\n]{0,20}(制限のない|制限なし|制約のない|ルールのない|脱獄)",
                r"(개발자 모드|탈옥 모드)\s?(활성화|켜)",
                r"(제한이 없는|제한 없는|규칙이 없는)\s?(ai|인공지능|어시스턴트)",
            ],
        ),
        f(
            "prompt_extraction",
            0.6,
            false,
            &[
                r"(sistem istemini|ilk talimatlarını|talimatlarını)[^.\n]{0,30}(göster|tekrarla|yaz|paylaş)",
                r"(اعرض|أظهر|كرر|اكشف)[^.\n]{0,20}(موجه النظام|تعليماتك|التعليمات الأولية)",
                r"(最初の指示|初期の指示|元の指示)を[^。\n]{0,10}(繰り返|表示|見せ|教え)",
                r"(처음 받은|초기|원래) 지시[를을]?\s?(그대로\s?)?(반복|보여|출력|알려)",
                r"(покажи|виведи|повтори)[^.\n]{0,15}(системний промпт|системні інструкції)",
                r"(cho tôi xem|hiển thị|lặp lại)[^.\n]{0,20}(lời nhắc hệ thống|hướng dẫn ban đầu)",
                r"सिस्टम प्रॉम्प्ट (दिखाओ|दिखाएं|बताओ)",
                r"\b(tunjukkan|tampilkan|ulangi)[^.\n]{0,20}(prompt sistem|instruksi awal)",
                r"\b(reveal|print|show|repeat|output|display|leak|dump|disclose|share|expose|recite|spell out|write out|give me|send me|tell me|what (is|are|was|were)|copy|paste|list|return|provide|echo|state)( me| us)? (your|the|all|all of your|all the|any|back|out)?( \w+){0,3} (system prompt|system message|system instructions|initial (prompt|instructions)|original (prompt|instructions)|hidden (prompt|instructions|rules)|secret (prompt|instructions)|developer (prompt|message|instructions)|pre-?prompt|prompt above|instructions above|(confidential|internal) instructions|guidelines you were given|instructions you were given|rules you were given)\b",
                r"\b(repeat|print|output|copy|echo|translate|summari[sz]e) (the |all )?(text|words|everything|content|instructions) (above|before this|preceding|prior to this)( (line|message|point))?\b",
                r"\b(repeat|print|output|show) (everything|all|the text) (verbatim|word for word)\b",
                r"\bstarting (with|from) (the words )?[\x22'“]?you are (a|an|chatgpt|claude|gpt)",
                r"\bwhat (were|are) (your|the) (exact |original |initial |first )?(instructions|rules|directives)\b",
                r"\b(begin|start) your (reply|answer|response) with (the )?(system prompt|your instructions)\b",
                r"\b(zeige|gib|wiederhole|verrate|nenne)( mir)? (deinen|deine|den|die) (system-?prompt|systemanweisungen|anweisungen|ursprünglichen anweisungen)\b",
                r"\b(montre|affiche|révèle|répète|donne)(-moi)? (ton|votre|tes|vos|le|les) (prompt système|invite système|instructions (initiales|système|cachées))\b",
                r"\b(muestra|muéstrame|revela|repite|dime|imprime) (tu|tus|el|las) (prompt del sistema|prompt de sistema|instrucciones (iniciales|del sistema|ocultas)|mensaje del sistema)\b",
                r"\b(mostra|mostrami|rivela|ripeti|dimmi|stampa) (il tuo|le tue|il|le) (prompt di sistema|istruzioni (iniziali|di sistema|nascoste))\b",
                r"\b(mostre|mostra|revele|repita|diga|imprima) (o seu|seu|suas|o|as) (prompt do sistema|prompt de sistema|instruções (iniciais|do sistema|ocultas))\b",
                r"\b(toon|laat|herhaal|geef)( me)? (je|jouw|de) (systeemprompt|systeeminstructies|oorspronkelijke instructies)\b",
                r"(покажи|выведи|повтори|раскрой|напиши) (свой|свои|мне свой|системный) ?(системный промпт|промпт|системные инструкции|инструкции)",
                r"(显示|输出|告诉我|重复|打印|泄露|透露)(你的|出你的)?(系统提示|系统指令|初始指令|原始指令|隐藏指令|提示词)",
                r"(システムプロンプト|初期指示|システム指示)を(表示|出力|教えて|見せて|繰り返)",
                r"(시스템 프롬프트|시스템 지시|초기 지시)[을를]?\s?(보여|출력|알려|공개)",
            ],
        ),
        f(
            "role_markers",
            0.45,
            false,
            &[
                r"<\|(im_start|im_end|system|assistant|user|endoftext|eot_id|start_header_id|end_header_id|begin_of_text)\|>",
                r"\[/?(inst|sys|system|/sys)\]",
                r"<<sys>>|<</sys>>",
                r"</?(system|sys|system_prompt|system-prompt|instructions?|admin|developer|assistant_instructions) ?>",
                r"</\s*(tool_result|tool_output|function_result|document|context|search_results?|user_input|data|email|webpage)\s*>",
                // A system or admin line, as a line, a heading, bold or bracketed
                // (written as four patterns so each has literal prefixes).
                r"^ ?(system|system prompt|system message|system override|admin|administrator|developer|developer message|assistant instructions)( note| notice| message| update| alert)? ?:",
                r"(#|##|###|####) ?(system|system prompt|system message|system override|admin|administrator|developer|developer message|assistant instructions)( note| notice| message| update| alert)? ?:",
                r"\*\*(system|system prompt|system message|system override|admin|administrator|developer|developer message|assistant instructions)( note| notice| message| update| alert)?(\*\* ?:|:\*\*)",
                r"[\[(](system|system prompt|system message|system override|admin|administrator|developer|developer message|assistant instructions)( note| notice| message| update| alert)?[\])] ?:",
                r"^ ?(system|assistant|ai|human|user) ?: ?(ignore|you are|you must|new|from now|sure|ok(ay)?,? i will|i will now)",
                r"\b(end of|end) (the )?(document|tool output|tool result|search results?|email|context|user input|conversation|data)\b\s*[\]\-=#*>]*\s*(\n|$)[^\n]{0,20}(system|assistant|instructions?|new)",
                r"\b(begin|start) (system|admin|developer) (prompt|instructions?|message|override)\b",
                r"\b(system|admin) override\b",
                r"\{ ?\x22role\x22 ?: ?\x22(system|developer)\x22",
            ],
        ),
        f(
            "addressed_to_agent",
            0.5,
            true,
            &[
                r"yapay zeka (asistanına|asistanı için) not",
                r"(okuyan|işleyen|özetleyen) bir yapay zeka(ysan|ysanız)",
                r"ملاحظة (للمساعد|إلى المساعد|للذكاء الاصطناعي)",
                r"aiアシスタント(への|に)(注意|メモ|指示|お願い)",
                r"(このメール|このページ|この文書)を(読んでいる|要約する|処理する)ai",
                r"ai 어시스턴트(에게|님께)",
                r"(이 이메일|이 페이지|이 문서)[을를]?\s?읽는 ai",
                r"(примечание|заметка|сообщение) для (ии|ai|ассистента|ии-ассистента)",
                r"примітка для (ші|ai|асистента|ші-асистента)",
                r"ghi chú cho trợ lý ai",
                r"एआई सहायक के लिए (नोट|निर्देश|संदेश)",
                r"\bcatatan untuk asisten ai\b",
                r"\buwaga dla asystenta ai\b",
                r"\b(jeśli jesteś|jeżeli jesteś) (ai|sztuczną inteligencją)\b",
                r"\b(note|message|instructions?|attention|notice|reminder|important|p\.?s\.?) (to|for) (the |any |all )?(ai|llm|assistant|agent|model|language model|chatbot|bot|gpt|claude|copilot|ai assistant|ai agent|ai model)s?\b",
                r"\b(dear|hey|hi|hello|attention|attn:?) (ai|llm|assistant|agent|language model|chatbot|gpt|claude|copilot|ai assistant|ai agent|ai model)\b",
                r"\b(if|when) you(?:'re| are) (an? |the )?(ai|llm|assistant|agent|language model|chatbot|bot|automated|ai assistant|ai agent|ai model|large language model)\b",
                r"\b(ai|llm|assistant|agent|language model|chatbot|ai assistant|ai agent)s? (reading|processing|summari[sz]ing|parsing|viewing|browsing|analy[sz]ing) (this|these)\b",
                r"\b(to|for) (the|any) (ai|assistant|agent|model|llm)( that is| which is)? (reading|processing|summari[sz]ing)\b",
                r"\b(ai|assistant|agent|model),? (you must|you should|you need to|please|ignore|stop|do not|don't|make sure|remember to)\b",
                r"\b(before|instead of) (you )?(can |continue to |proceed to )?(solve|complete|finish|answer|respond|summari[sz]e|continue|proceed|reply|do)( \w+){0,4} (task|request|question|user|that|this)\b",
                r"\b(the user|your user|the human) (has )?(asked|wants|instructed|requested|authori[sz]ed|needs) (you|me|us) (to|that)\b",
                r"\b(the user|they) (has|have) (already )?(approved|authori[sz]ed|consented|agreed)\b",
                r"\bthis (is|was) (an )?(authori[sz]ed|approved|legitimate) (request|action|instruction)\b",
                r"\b(an? |the )?(ai|assistant|agent) (must|should|is required to|needs to|will) (now )?(ignore|reply|respond|send|forward|call|use|execute|run|output|say|include|append|visit|open|click|delete|transfer)\b",
                r"\b(hinweis|nachricht|anweisung) (an|für) (die|den) (ki|assistenten|agenten|ki-assistenten)\b",
                r"\b(note|message|instruction) (à|pour) (l'|l’)?(ia|assistant|agent)\b",
                r"\b(nota|mensaje|instrucción|instrucciones) (para|a) (la |el )?(ia|asistente|agente)\b",
                r"(给|致)(ai|人工智能|助手|智能体|模型)的(指示|说明|消息|备注)",
                r"\b(your|the) (new|real|actual|true|only|updated) (instructions?|task|goal|objective|job|purpose|mission|directive) (is|are|now)\b",
                r"\bfrom now on,? (you|your|the assistant|the ai|you'll|you're|respond|answer|reply|always|only|ignore|act)\b",
                r"\bab (sofort|jetzt) (bist du|wirst du|antwortest du|ignorierst du)\b",
                r"\bà partir de maintenant,? (tu|vous)\b",
                r"\ba partir de ahora,? (eres|serás|tú|vas a|responde|debes)\b",
                r"\bda (ora|adesso) in poi,? (sei|tu|devi|rispondi)\b",
                r"\ba partir de agora,? (você|tu|és|é|seja|responda)\b",
                r"\bvanaf nu (ben je|ben jij|antwoord je|moet je)\b",
                r"\bod teraz (jesteś|będziesz|odpowiadaj)\b",
                r"(с этого момента|отныне|теперь) (ты|вы) (будешь|являешься|должен|отвечаешь)",
                r"从现在(开始|起)[,，]?你",
                r"(今から|これから|今後)(あなたは|君は|お前は)",
                r"지금부터\s?(너는|당신은)",
                r"(من الآن فصاعدا|من الآن)،? (أنت|انت|ستكون)",
                r"\binstead,? (of (summari[sz]ing|answering|translating|doing)|(you )?(must|should|will) now)\b",
                r"(если ты|если вы) (ии|ассистент|языковая модель|бот|ai)\b",
            ],
        ),
        f(
            "exfiltration",
            0.5,
            false,
            &[
                r"\b(send|post|upload|forward|email|e-mail|mail|exfiltrate|transmit|leak|submit|share|copy|paste|cc|bcc)\b[^.\n]{0,60}\b(conversation|chat|history|transcript|messages|credentials|passwords?|passcodes?|security codes?|verification codes?|2fa|otp|api[ _-]?keys?|access keys?|tokens?|secrets?|cookies?|session|personal (data|information|details)|user data|customer (data|records|list)|user's \w+|system prompt|instructions|contents? of|inbox|all (the |of the |your |my )?(files|emails|data|documents|records|contacts|messages))\b[^.\n]{0,60}\b(to|at|into|via)\s+(https?://|www\.|[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}|the (following|this) (url|address|endpoint|webhook|email))",
                r"\b(curl|wget|invoke-webrequest|iwr|fetch\(|requests\.(get|post))\s*(-\S+\s+)*['\x22]?https?://",
                r"!\[[^\]]*\]\(\s*https?://[^)\s]*[?&][^)\s]*=",
                r"\b(append|add|include|attach|encode|put|insert|embed)\b[^.\n]{0,80}\b(to|in|into|as)\b[^.\n]{0,30}\b(the )?(url|link|query string|query parameter|image (url|link)|markdown image|request)\b",
                r"\b(conversation|chat|session|user's|users'|the user|previous|all (the )?)( \w+){0,2} (history|messages|data|emails?|files|credentials|passwords?|api keys?|tokens?|secrets?|contacts|documents)\b[^.\n]{0,60}\b(to|at) (https?://|[a-z0-9._%+-]+@)",
                r"\b(visit|open|navigate to|go to|load|browse to|click)\b[^.\n]{0,40}https?://[^\s)]*[?&](q|data|d|info|secret|key|token|msg|c|p|payload|user|email|pw|pass)=",
                r"<img[^>]+src\s*=\s*['\x22]https?://[^'\x22]*\?[^'\x22]*=",
                r"\b(envoie|envoyez|transfère|transférez|sende|senden sie|leite|schicke|envía|envíe|reenvía|invia|inoltra|envie|encaminhe|stuur)\b[^.\n]{0,60}(historique|conversation|mots de passe|identifiants|verlauf|konversation|passwörter|zugangsdaten|kennw|historial|conversación|contraseñas|credenciales|cronologia|conversazione|password|credenziali|histórico|conversa|senhas|geschiedenis|wachtwoorden|e-mails? de l'utilisateur|correos del usuario)[^.\n]{0,60}(https?://|[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,})",
                r"(отправь|перешли|отправьте|发送|转发|送信|전송|보내)[^。.\n]{0,40}(историю|переписк|пароли|данные пользователя|对话|聊天记录|密码|历史|会話|履歴|パスワード|대화|기록|비밀번호)[^。.\n]{0,40}(https?://|[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,})",
            ],
        ),
        f(
            "concealment",
            0.5,
            false,
            &[
                r"\b(do not|don't|dont|never|without) (tell|telling|inform|informing|notify|notifying|mention|mentioning|alert|alerting|reveal|revealing|let|letting|warn|warning|show|showing|disclose|disclosing) (the user|the human|them|anyone|your user|the customer|the operator)\b",
                r"\b(do not|don't|never) (mention|reveal|disclose|acknowledge|reference) (this|these|that you)( \w+){0,2} (instructions?|message|note|request|change|action|step|part)\b",
                r"\b(keep|make) (this|it|these instructions) (secret|hidden|confidential|invisible) (from|to) (the user|the human|them)\b",
                r"\b(silently|secretly|quietly|covertly|discreetly|without (the user|anyone) (noticing|knowing))\b[^.\n]{0,60}\b(send|forward|delete|transfer|add|change|call|run|execute|include|email|upload|grant)\b",
                r"\b(send|forward|delete|transfer|add|change|call|run|execute|include|email|upload|grant)\b[^.\n]{0,60}\b(silently|secretly|quietly|covertly|discreetly|in the background)\b",
                r"\b(sag|sagen sie|erwähne|informiere)( es)? (dem nutzer|dem benutzer|dem anwender|niemandem) nichts\b",
                r"\bne (le )?(dis|dites|mentionne|mentionnez) (rien|pas) (à l'utilisateur|à l’utilisateur|à personne)\b",
                r"\bno (le )?(digas|diga|menciones|informes) (nada )?(al usuario|a nadie)\b",
                r"(不要|别)(告诉|通知|提及)(用户|任何人)",
                r"(не говори|не сообщай|не упоминай)( об этом)? (пользователю|никому)",
            ],
        ),
        f(
            "authority_claim",
            0.3,
            false,
            &[
                r"\b(this is|message from|i am|i'm|sent by|signed,?) (the|your|an?) (system administrator|sysadmin|administrator|admin|developer|creator|owner|security team|it department|openai|anthropic|google|system|operator|deployer|maintainer)\b",
                r"\b(urgent|important|critical|mandatory|required|attention|warning)\s*[:!]+\s*(the |all )?(assistant|ai|model|agent|llm|chatbot)s? (must|should|is required|needs|has to)\b",
                r"\b(authori[sz]ed by|on behalf of|approved by) (the )?(system|administrator|admin|developer|openai|anthropic|security team)\b",
                r"\b(highest|top|maximum|absolute) priority (instruction|directive|override|task|order)\b",
                r"\b(this|these) (instructions?|message|directive) (supersedes?|overrides?|takes? precedence over|replaces?) (all|any|every|the|your)\b",
            ],
        ),
        f(
            "obfuscation",
            0.3,
            false,
            &[
                r"\b(decode|decipher|decrypt|translate|convert|interpret|read)\b[^.\n]{0,60}\b(base64|base-64|hex|hexadecimal|rot13|rot-13|binary|morse|caesar|reversed|backwards|unicode escapes?)\b[^.\n]{0,80}\b(follow|execute|obey|do what|carry out|run|perform|act on|comply|respond to|answer)\b",
                r"\b(follow|execute|obey|run|perform|carry out|do) (the |these )?(decoded|hidden|encoded|base64|hex|rot13) (text|instructions?|message|commands?|payload|content|string)\b",
                r"\b(base64|rot13|hex)[- ]?(encoded|decoded)? (instructions?|prompt|command|message)\b",
            ],
        ),
    ]
}
