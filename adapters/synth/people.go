package synth

import (
	"math/rand/v2"
	"strings"

	"github.com/qiao-exchange/qiao/schema"
)

// county is a county-level division of Henan (GB/T 2260 code and name).
type county struct {
	code, name string
}

// henan lists the counties whose codes appear in ID numbers: those of
// Xinyang (信阳市, 4115xx) first, then neighbours and the cities people
// most often come from.
var henan = []county{
	{"411528", "息县"}, {"411502", "浉河区"}, {"411503", "平桥区"}, {"411521", "罗山县"},
	{"411522", "光山县"}, {"411523", "新县"}, {"411524", "商城县"}, {"411525", "固始县"},
	{"411526", "潢川县"}, {"411527", "淮滨县"},
	{"411724", "正阳县"}, {"411729", "新蔡县"}, {"411723", "平舆县"}, {"411727", "汝南县"},
	{"411702", "驿城区"}, {"411602", "川汇区"}, {"411624", "沈丘县"}, {"411302", "宛城区"},
	{"410102", "中原区"}, {"410105", "金水区"}, {"410122", "中牟县"}, {"411002", "魏都区"},
	{"410702", "红旗区"}, {"411402", "梁园区"},
}

// countyByCode returns the county with the given code.
func countyByCode(code string) (county, bool) {
	for _, c := range henan {
		if c.code == code {
			return c, true
		}
	}
	return county{}, false
}

// surnames are common surnames, each with its approximate share per
// thousand people in Henan.
var surnames = []struct {
	s string
	w int
}{
	{"王", 80}, {"李", 75}, {"张", 72}, {"刘", 55}, {"陈", 42}, {"杨", 32}, {"赵", 26},
	{"黄", 20}, {"周", 21}, {"吴", 18}, {"徐", 17}, {"孙", 17}, {"胡", 15}, {"朱", 14},
	{"高", 14}, {"林", 8}, {"何", 11}, {"郭", 16}, {"马", 13}, {"罗", 9}, {"梁", 9},
	{"宋", 11}, {"郑", 10}, {"谢", 8}, {"韩", 9}, {"唐", 7}, {"冯", 9}, {"于", 7},
	{"董", 8}, {"萧", 3}, {"程", 8}, {"曹", 8}, {"袁", 7}, {"邓", 7}, {"许", 8},
	{"傅", 4}, {"沈", 5}, {"曾", 4}, {"彭", 7}, {"吕", 6}, {"苏", 6}, {"卢", 6},
	{"蒋", 6}, {"蔡", 6}, {"贾", 6}, {"丁", 6}, {"魏", 7}, {"薛", 5}, {"叶", 5},
	{"阎", 4}, {"余", 6}, {"潘", 5}, {"杜", 6}, {"戴", 4}, {"夏", 5}, {"钟", 4},
	{"汪", 5}, {"田", 6}, {"任", 6}, {"姜", 5}, {"范", 6}, {"方", 5}, {"石", 5},
	{"姚", 5}, {"谭", 3}, {"廖", 3}, {"邹", 3}, {"熊", 4}, {"金", 4}, {"陆", 3},
	{"郝", 4}, {"孔", 4}, {"白", 4}, {"崔", 4}, {"康", 3}, {"毛", 3}, {"邱", 3},
	{"秦", 3}, {"江", 3}, {"史", 4}, {"顾", 2}, {"侯", 4}, {"邵", 3}, {"孟", 4},
	{"龙", 2}, {"万", 3}, {"段", 3}, {"雷", 3}, {"钱", 2}, {"汤", 3}, {"尹", 3},
	{"易", 2}, {"常", 3}, {"武", 3}, {"乔", 3}, {"贺", 3}, {"龚", 2}, {"文", 2},
	{"付", 4}, {"詹", 3}, {"鲁", 2}, {"蔺", 1}, {"岳", 2}, {"柳", 1}, {"聂", 2},
}

// Characters of given names. Older generations' names differ from the
// young's; each list is by sex.
const (
	maleOld     = "建国军华明志强伟平德文忠海庆福保贵生山林中春长成永新发东兵富金荣全友国元红祥才学喜"
	maleYoung   = "浩宇轩博涛鹏辉磊超杰俊帅凯鑫帆阳晨旭睿泽豪宇航子梓一嘉文昊然天佳毅龙飞亮斌健"
	femaleOld   = "秀英兰桂芳玉凤珍华梅琴云莲翠荣花霞兰菊香娥巧素萍娟丽红艳敏芬美金爱"
	femaleYoung = "婷雪慧洁倩颖静娜丽琳欣怡萱涵诗雨梦瑶思悦彤佳晶璐丹蕾月晴雯可心妍玥馨"
)

// surnameTable holds the surnames a thousand times over in proportion to
// their shares, so that a uniform index draws one by frequency.
var surnameTable = func() (t [1000]string) {
	total := 0
	for _, s := range surnames {
		total += s.w
	}
	i := 0
	for _, s := range surnames {
		for range s.w * len(t) / total {
			if i < len(t) {
				t[i] = s.s
				i++
			}
		}
	}
	for ; i < len(t); i++ { // rounding leaves a few places: the commonest names
		t[i] = surnames[i%8].s
	}
	return t
}()

// nameChars are the characters of maleOld, maleYoung, femaleOld and
// femaleYoung as strings.
var nameChars = func() (c [4][]string) {
	for k, s := range []string{maleOld, maleYoung, femaleOld, femaleYoung} {
		for _, r := range s {
			c[k] = append(c[k], string(r))
		}
	}
	return c
}()

// randomName returns a plausible full name for a person of the given sex
// born in the given year.
func randomName(r *rand.Rand, male bool, birthYear int) string {
	k := 0
	if !male {
		k = 2
	}
	young := birthYear >= 1985
	if young {
		k++
	}
	chars := nameChars[k]
	var b strings.Builder
	b.Grow(9)
	b.WriteString(surnameTable[r.IntN(len(surnameTable))])
	b.WriteString(chars[r.IntN(len(chars))])
	twoChars := 70
	if young {
		twoChars = 80
	}
	if r.IntN(100) < twoChars {
		b.WriteString(chars[r.IntN(len(chars))])
	}
	return b.String()
}

// person is one resident.
type person struct {
	id    string
	name  string
	birth day
	death day // none while alive
	male  bool
	// role flags for background data, so that it cannot match a model by
	// accident.
	medUser  bool // may have medical-insurance settlements
	used     bool // already a suspect, defendant, respondent or employer's responsible person
	planted  bool // created for a planted case or near-miss
	pension  money
	pensionE bool // pension of the employees' scheme (城镇职工) rather than residents'
}

func (p *person) alive(t day) bool { return p.death == none || t < p.death }

func (p *person) age(t day) int {
	by, bm, bd := p.birth.date()
	y, m, d := t.date()
	a := y - by
	if m < bm || (m == bm && d < bd) {
		a--
	}
	return a
}

// population makes people with unique ID numbers.
type population struct {
	r       *rand.Rand
	home    county
	ids     map[uint64]struct{}
	maxBorn day // no birth after this day (ID numbers must not be born in the future)
}

// ageBands are the shares per thousand of five-year age bands, 0–4 to
// 90–94, of a rural county of Henan where the working-age people have
// partly left for the cities.
var ageBands = [...]int{45, 55, 62, 60, 48, 52, 62, 60, 58, 68, 82, 88, 82, 70, 60, 48, 32, 14, 6}

var ageTable = func() []int {
	var t []int
	for band, w := range ageBands {
		for range w {
			t = append(t, band)
		}
	}
	return t
}()

// region picks the county code of a new ID number: mostly the home county,
// then the rest of Xinyang, then elsewhere in Henan.
func (pp *population) region() string {
	switch n := pp.r.IntN(100); {
	case n < 74:
		return pp.home.code
	case n < 88:
		return henan[1+pp.r.IntN(9)].code
	default:
		return henan[10+pp.r.IntN(len(henan)-10)].code
	}
}

// newPerson makes a person born in [lo, hi].
func (pp *population) newPerson(lo, hi day) *person {
	if hi > pp.maxBorn {
		hi = pp.maxBorn
	}
	if lo > hi {
		lo = hi
	}
	r := pp.r
	birth := lo + day(r.Int64N(int64(hi-lo+1)))
	male := r.IntN(2) == 0
	region := pp.region()
	var buf [18]byte
	y, m, d := birth.date()
	for {
		copy(buf[:6], region)
		b := appendPadded(buf[:6], y, 4)
		b = appendPadded(b, m, 2)
		b = appendPadded(b, d, 2)
		seq := r.IntN(500) * 2
		if male {
			seq++
		}
		b = appendPadded(b, seq, 3)
		var key uint64
		for _, c := range b[:17] {
			key = key*10 + uint64(c-'0')
		}
		if _, dup := pp.ids[key]; dup {
			continue
		}
		pp.ids[key] = struct{}{}
		check, err := schema.IDCheckDigit(string(b[:17]))
		if err != nil {
			panic("synth: " + err.Error()) // 17 digits by construction
		}
		buf[17] = check
		break
	}
	return &person{
		id:    string(buf[:]),
		name:  randomName(r, male, y),
		birth: birth,
		death: none,
		male:  male,
	}
}

// newAged makes a person aged between minAge and maxAge on day t.
func (pp *population) newAged(t day, minAge, maxAge int) *person {
	return pp.newPerson(t.addYears(-maxAge-1)+1, t.addYears(-minAge))
}

// newRandom makes a person with an age drawn from the age pyramid.
func (pp *population) newRandom(t day) *person {
	band := ageTable[pp.r.IntN(len(ageTable))]
	return pp.newAged(t, band*5, band*5+4)
}

// creditAlphabet is GB 32100's character set.
const creditAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"

// creditCode makes the unified social credit code of the n-th organisation
// registered in a county: registration authority 9 (market regulation),
// type 1 (enterprise), the county code, a nine-character organisation code
// in the "MA" series with its GB 11714 check character, and the GB 32100
// check character.
func creditCode(region string, n int) string {
	b := make([]byte, 0, 18)
	b = append(b, "91"...)
	b = append(b, region...)
	b = append(b, 'M', 'A')
	x := uint64(n)*2654435761 + 12345
	for range 6 {
		b = append(b, creditAlphabet[x%31])
		x /= 31
	}
	// GB 11714 check over the eight characters of the organisation code.
	weights := [8]int{3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, c := range b[8:16] {
		v := int(c - '0')
		if c >= 'A' {
			v = int(c-'A') + 10
		}
		sum += v * weights[i]
	}
	switch c := 11 - sum%11; c {
	case 10:
		b = append(b, 'X')
	case 11:
		b = append(b, '0')
	default:
		b = append(b, byte('0'+c))
	}
	check, err := schema.CreditCodeCheckChar(string(b))
	if err != nil {
		panic("synth: " + err.Error()) // credit-code alphabet by construction
	}
	return string(append(b, check))
}
