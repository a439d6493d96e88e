package topology

// provinceOf maps the cities where edge sites usually are (provincial
// capitals and large cities, in lower-case pinyin) to their province.
var provinceOf = map[string]string{
	"beijing": "beijing", "tianjin": "tianjin", "shanghai": "shanghai", "chongqing": "chongqing",
	"shijiazhuang": "hebei", "tangshan": "hebei", "baoding": "hebei", "langfang": "hebei",
	"taiyuan": "shanxi", "datong": "shanxi",
	"hohhot": "neimenggu", "huhehaote": "neimenggu", "baotou": "neimenggu",
	"shenyang": "liaoning", "dalian": "liaoning",
	"changchun": "jilin", "jilin": "jilin",
	"harbin": "heilongjiang", "haerbin": "heilongjiang", "daqing": "heilongjiang",
	"nanjing": "jiangsu", "suzhou": "jiangsu", "wuxi": "jiangsu", "changzhou": "jiangsu", "xuzhou": "jiangsu", "nantong": "jiangsu",
	"hangzhou": "zhejiang", "ningbo": "zhejiang", "wenzhou": "zhejiang", "jinhua": "zhejiang", "shaoxing": "zhejiang",
	"hefei": "anhui", "wuhu": "anhui",
	"fuzhou": "fujian", "xiamen": "fujian", "quanzhou": "fujian",
	"nanchang": "jiangxi", "ganzhou": "jiangxi",
	"jinan": "shandong", "qingdao": "shandong", "yantai": "shandong", "weifang": "shandong", "linyi": "shandong",
	"zhengzhou": "henan", "luoyang": "henan",
	"wuhan": "hubei", "yichang": "hubei", "xiangyang": "hubei",
	"changsha": "hunan", "zhuzhou": "hunan",
	"guangzhou": "guangdong", "shenzhen": "guangdong", "dongguan": "guangdong", "foshan": "guangdong", "zhuhai": "guangdong", "shantou": "guangdong",
	"nanning": "guangxi", "liuzhou": "guangxi", "guilin": "guangxi",
	"haikou": "hainan", "sanya": "hainan",
	"chengdu": "sichuan", "mianyang": "sichuan",
	"guiyang": "guizhou", "zunyi": "guizhou",
	"kunming": "yunnan",
	"lhasa":   "xizang", "lasa": "xizang",
	"xian": "shaanxi", "xi-an": "shaanxi",
	"lanzhou":  "gansu",
	"xining":   "qinghai",
	"yinchuan": "ningxia",
	"urumqi":   "xinjiang", "wulumuqi": "xinjiang",
}

// ProvinceOfCity returns the province of a known city, or "".
func ProvinceOfCity(city string) string { return provinceOf[city] }
